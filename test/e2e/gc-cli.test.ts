import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BERTH_BIN, spawnBerth, startBerth } from "../helpers/berth.js";
import { makeImage, makeLayer, sha256, type TestImage } from "../helpers/fixtures.js";
import { pushBlob, pushManifest } from "../helpers/push.js";
import { run } from "../helpers/tools.js";

const berth = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [BERTH_BIN, ...args], { env, allowFail: true, timeoutMs: 60_000 });

async function push(url: string, repo: string, image: TestImage, ref: string): Promise<void> {
  for (const layer of image.layers) await pushBlob(url, repo, layer);
  await pushBlob(url, repo, image.config);
  await pushManifest(url, repo, ref, image.manifest, image.manifestMediaType);
}

describe("berth gc and /api/v1/gc", () => {
  it("berth gc runs against the data directory of a running server, dry run first", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-gc-cli-"));
    const env = { BERTH_GC_GRACE: "0s" };
    const server = await spawnBerth(dir, env);
    try {
      const keep = makeImage({ layers: [makeLayer({ "keep.txt": randomUUID() })] });
      const drop = makeImage({ layers: [makeLayer({ "drop.txt": randomUUID() })] });
      await push(server.url, "cli/app", keep, "keep");
      await push(server.url, "cli/app", drop, "drop");
      assert.equal((await fetch(`${server.url}/v2/cli/app/manifests/drop`, { method: "DELETE" })).status, 202);

      const dry = await berth(["gc", "--data", dir, "--dry-run", "--delete-untagged"], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /Dry run: nothing was deleted/);
      assert.match(dry.stdout, /manifests would delete: 1/);
      assert.ok(dry.stdout.includes(`manifest cli/app@${drop.manifestDigest}`));
      assert.ok(dry.stdout.includes(`blob ${drop.layerDigests[0]}`));
      assert.equal((await fetch(`${server.url}/v2/cli/app/manifests/${drop.manifestDigest}`)).status, 200, "dry run deleted nothing");

      const real = await berth(["gc", "--data", dir, "--delete-untagged", "--json"], env);
      assert.equal(real.code, 0, real.stderr);
      const report = JSON.parse(real.stdout) as { manifestsDeleted: number; blobsDeleted: number; blobs: { digest: string }[] };
      assert.equal(report.manifestsDeleted, 1);
      assert.deepEqual(report.blobs.map((b) => b.digest).sort(), [drop.configDigest, drop.layerDigests[0]!].sort());
      assert.equal((await fetch(`${server.url}/v2/cli/app/blobs/${drop.layerDigests[0]}`)).status, 404);
      const kept = await fetch(`${server.url}/v2/cli/app/blobs/${keep.layerDigests[0]}`);
      assert.equal(sha256(Buffer.from(await kept.arrayBuffer())), keep.layerDigests[0]);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("POST /api/v1/gc runs a collection, answers 409 while another holds the lock, and /metrics counts it", async () => {
    const b = await startBerth({ BERTH_GC_GRACE: "0s" });
    try {
      const image = makeImage({ layers: [makeLayer({ "api.txt": randomUUID() })] });
      await push(b.url, "api/app", image, "v1");
      assert.equal((await fetch(`${b.url}/v2/api/app/manifests/v1`, { method: "DELETE" })).status, 202);

      const dry = await fetch(`${b.url}/api/v1/gc?dryRun=true&deleteUntagged=true`, { method: "POST" });
      assert.equal(dry.status, 200);
      const dryReport = (await dry.json()) as { dryRun: boolean; manifestsDeleted: number };
      assert.deepEqual([dryReport.dryRun, dryReport.manifestsDeleted], [true, 1]);

      const lock = await b.berth.registry.stores.metadataStore.tryLock("gc");
      const busy = await fetch(`${b.url}/api/v1/gc`, { method: "POST" });
      assert.equal(busy.status, 409);
      assert.match(((await busy.json()) as { skipped: string }).skipped, /another garbage collection/);
      await lock!.release();

      const res = await fetch(`${b.url}/api/v1/gc?deleteUntagged=true`, { method: "POST" });
      assert.equal(res.status, 200);
      const report = (await res.json()) as { blobsDeleted: number; bytesReclaimed: number };
      assert.equal(report.blobsDeleted, 2);
      assert.equal(report.bytesReclaimed, image.config.length + image.layers[0]!.length);
      assert.equal((await fetch(`${b.url}/api/v1/gc?dryRun=maybe`, { method: "POST" })).status, 400);
      assert.equal((await fetch(`${b.url}/api/v1/gc`)).status, 405);

      const metrics = await (await fetch(`${b.url}/metrics`)).text();
      assert.match(metrics, /^berth_gc_runs_total\{outcome="completed"\} 1$/m);
      assert.match(metrics, /^berth_gc_runs_total\{outcome="dry_run"\} 1$/m);
      assert.match(metrics, /^berth_gc_runs_total\{outcome="skipped"\} 1$/m, "the run refused by the held lock");
      assert.match(metrics, /^berth_gc_blobs_deleted_total 2$/m);
      assert.match(metrics, new RegExp(`^berth_gc_reclaimed_bytes_total ${report.bytesReclaimed}$`, "m"));
      assert.match(metrics, /^berth_gc_last_duration_seconds \d/m);
    } finally {
      await b.stop();
    }
  });

  it("a scheduled collection reclaims on its own", async () => {
    const b = await startBerth({ BERTH_GC_GRACE: "0s", BERTH_GC_SCHEDULE: "1s", BERTH_GC_DELETE_UNTAGGED: "true" });
    try {
      const image = makeImage({ layers: [makeLayer({ "sched.txt": randomUUID() })] });
      await push(b.url, "sched/app", image, "v1");
      assert.equal((await fetch(`${b.url}/v2/sched/app/manifests/v1`, { method: "DELETE" })).status, 202);
      let runs = 0;
      b.berth.registry.events.subscribe((events) => {
        runs += events.filter((e) => e.type === "gc.completed" && e.detail?.outcome === "completed").length;
      });
      const deadline = Date.now() + 10_000;
      // The run reports itself after releasing its lock, a moment after the blob is gone.
      const gone = async () => !(await b.berth.registry.stores.blobStore.stat(image.layerDigests[0]! as never)) && runs >= 1;
      while (!(await gone()) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(await b.berth.registry.stores.blobStore.stat(image.layerDigests[0]! as never), undefined);
      assert.ok(runs >= 1, "the scheduled run reported a completed collection");
    } finally {
      await b.stop();
    }
  });
});
