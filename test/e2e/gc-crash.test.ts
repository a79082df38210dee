import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { BERTH_BIN } from "../helpers/berth.js";
import { makeImage, makeLayer } from "../helpers/fixtures.js";
import { pushBlob, pushManifest } from "../helpers/push.js";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";
import { verifySoak } from "../soak/soak-workload.js";
import { startSoakTarget, type SoakBackend } from "../soak/soak-target.js";

/**
 * kill -9 in the middle of a sweep, then collect again: the registry stays consistent and nothing
 * a tag reaches is lost. On the embedded default the sweeping process is `berth gc` beside a
 * running server; on S3 + PostgreSQL it is one of three nodes, killed while it sweeps.
 */

/** Enough garbage that the sweep takes long enough to be killed in the middle. */
const GARBAGE_BY_BACKEND: Record<SoakBackend, number> = { embedded: 3000, "s3-postgres": 1500 };

async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function prepare(url: string, count: number): Promise<{ kept: { repo: string; tag: string; digest: string }[]; garbage: Buffer[] }> {
  const kept = [];
  for (const repo of ["soak/a", "soak/b"]) {
    const image = makeImage({ layers: [makeLayer({ "kept.txt": randomUUID() }), randomBytes(200_000)] });
    for (const l of image.layers) await pushBlob(url, repo, l);
    await pushBlob(url, repo, image.config);
    await pushManifest(url, repo, "kept", image.manifest, image.manifestMediaType);
    kept.push({ repo, tag: "kept", digest: image.manifestDigest });
  }
  // Garbage: blobs pushed then deleted, so nothing links or references them.
  const blobs = Array.from({ length: count }, () => randomBytes(512));
  await inParallel(blobs, 8, async (b) => {
    const digest = await pushBlob(url, "soak/c/deep", b);
    const res = await fetch(`${url}/v2/soak/c/deep/blobs/${digest}`, { method: "DELETE" });
    assert.equal(res.status, 202);
  });
  return { kept, garbage: blobs };
}

async function crashMidSweep(backend: SoakBackend): Promise<void> {
  const target = await startSoakTarget(backend, 0, { BERTH_GC_SCHEDULE: "off" });
  try {
    const url = target.nodes[0]!.url;
    const GARBAGE = GARBAGE_BY_BACKEND[backend];
    const { kept, garbage } = await prepare(url, GARBAGE);
    const before = (await target.storedBlobs()).size;
    assert.ok(before >= GARBAGE);

    let killed: Promise<void>;
    if (backend === "embedded") {
      // `berth gc` against the running server's data directory, killed once it has deleted some.
      const gc = spawn(process.execPath, [BERTH_BIN, "gc", "--data", target.data!, "--json"], { stdio: "ignore", env: { ...process.env, BERTH_GC_GRACE: "0s" } });
      const exited = new Promise<void>((r) => gc.once("exit", () => r()));
      // Killed as soon as the first batch of deletions shows (a sweep deletes 500 at a time).
      while ((await target.storedBlobs()).size >= before && gc.exitCode === null) await sleep(5);
      gc.kill("SIGKILL");
      killed = exited;
    } else {
      const victim = target.nodes[1]!;
      const request = fetch(`${victim.url}/api/v1/gc`, { method: "POST" }).catch(() => undefined);
      while ((await target.storedBlobs()).size >= before) await sleep(20);
      killed = victim.kill9();
      await request;
      target.nodes.splice(1, 1);
    }
    await killed;
    const after = (await target.storedBlobs()).size;
    assert.ok(after < before && after > before - GARBAGE, `killed mid-sweep (${before} → ${after} blobs stored)`);

    // Everything a tag reaches is intact right after the crash, before any recovery.
    for (const k of kept) {
      const res = await fetch(`${url}/v2/${k.repo}/manifests/${k.tag}`, { method: "HEAD" });
      assert.equal(res.headers.get("docker-content-digest"), k.digest);
    }
    // Pushing garbage blobs again works whether the dead sweep deleted, marked or never reached them.
    for (const blob of [garbage[0]!, garbage[Math.floor(GARBAGE / 2)]!, garbage[GARBAGE - 1]!]) {
      const digest = await pushBlob(url, "soak/again", blob);
      const res = await fetch(`${url}/v2/soak/again/blobs/${digest}`);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(blob));
    }

    const res = await fetch(`${url}/api/v1/gc?wait=true`, { method: "POST" });
    assert.equal(res.status, 200, await res.clone().text());
    const problems = await verifySoak(url, kept, () => target.storedBlobs());
    assert.deepEqual(problems, []);
  } finally {
    await target.stop();
  }
}

describe("kill -9 during garbage collection", () => {
  it("embedded: berth gc killed mid-sweep beside a running server; the next GC finishes the job", { timeout: 180_000 }, () =>
    crashMidSweep("embedded"));

  it("S3 + PostgreSQL: a node killed mid-sweep; another node's GC finishes the job", { skip: skipUnlessS3() || skipUnlessPostgres(), timeout: 240_000 }, () =>
    crashMidSweep("s3-postgres"));
});

