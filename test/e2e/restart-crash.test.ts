import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { spawnBerth } from "../helpers/berth.js";
import { makeImage, sha256 } from "../helpers/fixtures.js";
import { pullBlob, pullManifest, pushBlob, pushManifest } from "../helpers/push.js";
import { patchChunk, startUpload, withQuery } from "../helpers/upload-session.js";

const tempData = () => mkdtemp(join(tmpdir(), "berth-restart-"));

/** A request body that trickles `total` bytes slowly, so a kill lands in the middle of it. */
function slowBody(data: Buffer, chunk = 64 * 1024, delayMs = 20): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    async pull(controller) {
      if (offset >= data.length) return controller.close();
      await new Promise((r) => setTimeout(r, delayMs));
      controller.enqueue(data.subarray(offset, offset + chunk));
      offset += chunk;
    },
  });
}

/** Every file under blobs/ must hash to its own name: nothing partial is ever visible. */
async function assertBlobFilesIntact(data: string): Promise<number> {
  let count = 0;
  const root = join(data, "blobs", "sha256");
  for (const prefix of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, prefix))) {
      const hex = createHash("sha256").update(await readFile(join(root, prefix, name))).digest("hex");
      assert.equal(hex, name, `blob file ${prefix}/${name} does not match its content`);
      count++;
    }
  }
  return count;
}

describe("restart", () => {
  it("keeps pushed images and resumes an interrupted chunked upload after a stop and start", async () => {
    const data = await tempData();
    const first = await spawnBerth(data);
    const image = makeImage({ layers: [randomBytes(100_000)] });
    await pushBlob(first.url, "keep/app", image.config);
    for (const layer of image.layers) await pushBlob(first.url, "keep/app", layer);
    await pushManifest(first.url, "keep/app", "1.0", image.manifest, image.manifestMediaType);

    const big = randomBytes(3 * 1024 * 1024);
    const location = await startUpload(first.url, "keep/app");
    assert.equal((await patchChunk(location, big.subarray(0, 1024 * 1024), 0)).status, 202);
    assert.equal(await first.stop(), 0, "SIGTERM exits cleanly");

    const second = await spawnBerth(data);
    try {
      assert.deepEqual((await pullManifest(second.url, "keep/app", "1.0"))?.content, image.manifest);
      assert.deepEqual(await pullBlob(second.url, "keep/app", image.layerDigests[0]!), image.layers[0]);

      const resumed = location.replace(first.url, second.url);
      const status = await fetch(resumed);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get("range"), `0-${1024 * 1024 - 1}`);
      assert.equal((await patchChunk(resumed, big.subarray(1024 * 1024), 1024 * 1024)).status, 202);
      const done = await fetch(withQuery(resumed, { digest: sha256(big) }), { method: "PUT" });
      assert.equal(done.status, 201);
      assert.deepEqual(await pullBlob(second.url, "keep/app", sha256(big)), big);
    } finally {
      await second.stop();
      await rm(data, { recursive: true, force: true });
    }
  });

  it("drains an in-flight upload on SIGTERM before exiting", async () => {
    const data = await tempData();
    const berth = await spawnBerth(data);
    const blob = randomBytes(1024 * 1024);
    const upload = fetch(`${berth.url}/v2/drain/app/blobs/uploads/?digest=${sha256(blob)}`, {
      method: "POST",
      body: slowBody(blob, 64 * 1024, 30),
      duplex: "half",
    } as RequestInit);
    await new Promise((r) => setTimeout(r, 150));
    const exited = berth.stop();
    assert.equal((await upload).status, 201, "the upload in flight completes");
    assert.equal(await exited, 0);
    const again = await spawnBerth(data);
    try {
      assert.deepEqual(await pullBlob(again.url, "drain/app", sha256(blob)), blob);
    } finally {
      await again.stop();
      await rm(data, { recursive: true, force: true });
    }
  });
});

describe("crash safety", () => {
  it("after kill -9 during uploads and manifest pushes, serves nothing partial and nothing dangles", async () => {
    const data = await tempData();
    const berth = await spawnBerth(data);
    const images = Array.from({ length: 6 }, () => makeImage({ layers: [randomBytes(512 * 1024), randomBytes(256 * 1024)] }));
    const inflight: Promise<unknown>[] = [];
    // Whole images pushed one after another, interleaved with slow uploads that the kill interrupts.
    const pushes = (async () => {
      for (const [i, image] of images.entries()) {
        const repo = `crash/app${i % 2}`;
        await pushBlob(berth.url, repo, image.config);
        for (const layer of image.layers) await pushBlob(berth.url, repo, layer);
        await pushManifest(berth.url, repo, `v${i}`, image.manifest, image.manifestMediaType);
      }
    })().catch(() => {});
    const slow = images.map((image, i) =>
      fetch(`${berth.url}/v2/crash/slow/blobs/uploads/?digest=${image.layerDigests[0]}`, {
        method: "POST",
        body: slowBody(image.layers[0]!, 32 * 1024, 10 + i * 5),
        duplex: "half",
      } as RequestInit).catch(() => undefined),
    );
    inflight.push(pushes, ...slow);
    await new Promise((r) => setTimeout(r, 300));
    await berth.kill9();
    await Promise.allSettled(inflight);

    await assertBlobFilesIntact(data);
    const after = await spawnBerth(data);
    try {
      for (const repo of ["crash/app0", "crash/app1", "crash/slow"]) {
        const tags = await fetch(`${after.url}/v2/${repo}/tags/list`);
        if (tags.status === 404) continue;
        for (const tag of ((await tags.json()) as { tags: string[] }).tags) {
          const manifest = await pullManifest(after.url, repo, tag);
          assert.ok(manifest?.content, `${repo}:${tag} is served`);
          const parsed = JSON.parse(manifest.content.toString()) as { config: { digest: string }; layers: { digest: string }[] };
          for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
            // pullBlob checks the bytes against the digest: a partial blob fails there.
            assert.ok(await pullBlob(after.url, repo, d), `${repo}:${tag} references ${d}, which must be served`);
          }
        }
      }
      for (const image of images) {
        for (const d of image.layerDigests) {
          // Served whole (pullBlob checks the digest) or not at all.
          await pullBlob(after.url, "crash/slow", d);
        }
      }
      // The registry keeps working where the crash left it: the same pushes now succeed.
      const image = images[0]!;
      await pushBlob(after.url, "crash/slow", image.layers[0]!);
      assert.deepEqual(await pullBlob(after.url, "crash/slow", image.layerDigests[0]!), image.layers[0]);
    } finally {
      await after.stop();
      await rm(data, { recursive: true, force: true });
    }
  });
});
