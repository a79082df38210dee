import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnBerth } from "../helpers/berth.js";
import { skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type SeededImage, type Upstream } from "../helpers/upstream.js";

const MiB = 1024 * 1024;

/** Every file under blobs/ hashes to its own name: nothing partial is ever visible. */
async function blobFilesIntact(data: string): Promise<number> {
  let count = 0;
  const root = join(data, "blobs", "sha256");
  for (const prefix of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, prefix))) {
      assert.equal(createHash("sha256").update(await readFile(join(root, prefix, name))).digest("hex"), name, `blob ${name} is not what its name says`);
      count++;
    }
  }
  return count;
}

/** Reads a body until `bytes` arrived, then leaves it hanging (the server is about to die). */
async function readSome(url: string, bytes: number): Promise<number> {
  const res = await fetch(url);
  let got = 0;
  const reader = res.body!.getReader();
  while (got < bytes) {
    const { value, done } = await reader.read();
    if (done) break;
    got += value.length;
  }
  reader.cancel().catch(() => {});
  return got;
}

/**
 * kill -9 of a pull-through cache in the middle of a cold blob: after the restart nothing
 * half-fetched is visible (no blob, no spool file), and the next pull fetches it whole.
 */
describe("pull-through cache killed mid-blob", { skip: skipUnlessTools("docker-registry", "skopeo", "openssl") }, () => {
  let up: Upstream;
  let image: SeededImage;
  let data: string;

  before(async () => {
    up = await startUpstream();
    image = await up.push("library/crash", "v1", { layerBytes: 96 * MiB });
    data = await mkdtemp(join(tmpdir(), "berth-proxy-crash-"));
    await writeFile(join(data, "config.json"), JSON.stringify({ proxy: { upstreams: [{ name: "docker.io", url: up.url, default: true }] } }));
  });
  after(async () => {
    await up?.stop();
    if (data) await rm(data, { recursive: true, force: true });
  });

  it("leaves no partial blob or spool file, and the next pull is whole", async () => {
    const env = { BERTH_CONFIG: join(data, "config.json") };
    const layer = image.layerDigests[0]!;
    const first = await spawnBerth(data, env);
    const got = await readSome(`${first.url}/v2/docker.io/library/crash/blobs/${layer}`, 4 * MiB);
    assert.ok(got >= 4 * MiB, "the cold blob was streaming");
    await first.kill9();

    const second = await spawnBerth(data, env);
    try {
      assert.deepEqual(await readdir(join(data, "proxy-spool")), [], "the spool is emptied at start");
      await blobFilesIntact(data);
      const head = await fetch(`${second.url}/v2/docker.io/library/crash/blobs/${layer}`, { method: "HEAD" });
      // Killed before the layer was verified and stored, it is not in the cache; had the kill come
      // after, it would be a hit and whole (checked below either way).
      assert.match(head.headers.get("cache-status")!, /^Berth; (fwd=uri-miss|hit)/);
      const whole = Buffer.from(await (await fetch(`${second.url}/v2/docker.io/library/crash/blobs/${layer}`)).arrayBuffer());
      assert.equal(`sha256:${createHash("sha256").update(whole).digest("hex")}`, layer);
      const warm = await fetch(`${second.url}/v2/docker.io/library/crash/blobs/${layer}`, { method: "HEAD" });
      assert.equal(warm.headers.get("cache-status"), "Berth; hit");
      assert.ok((await blobFilesIntact(data)) >= 1);
    } finally {
      await second.stop();
    }
  });
});
