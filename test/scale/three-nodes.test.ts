import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { scaleOutEnv, spawnBerth, type BerthProcess } from "../helpers/berth.js";
import type { Digest } from "../../src/oci/digest.js";
import { makeImage, sha256 } from "../helpers/fixtures.js";
import { writeImageLayout } from "../helpers/oci-layout.js";
import { pullBlob, pullManifest, pushBlob, pushManifest, withClient } from "../helpers/push.js";
import { patchChunk, withQuery } from "../helpers/upload-session.js";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";
import { run, skipUnlessTools } from "../helpers/tools.js";

describe("three stateless nodes on one bucket and one database", { skip: skipUnlessS3() || skipUnlessPostgres() }, () => {
  let nodes: BerthProcess[] = [];
  let cleanup: () => Promise<void>;
  let dirs: string[] = [];

  before(async () => {
    const backend = await scaleOutEnv();
    cleanup = backend.cleanup;
    dirs = await Promise.all([0, 1, 2].map(() => mkdtemp(join(tmpdir(), "berth-node-"))));
    // Each node has its own (unused) data directory: nothing that matters may live there.
    nodes = await Promise.all(dirs.map((dir) => spawnBerth(dir, backend.env)));
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await cleanup();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it("pushes an image through one node and pulls it through the others", async () => {
    const [a, b, c] = nodes as [BerthProcess, BerthProcess, BerthProcess];
    const image = makeImage({ layers: [randomBytes(300_000)] });
    await pushBlob(a.url, "scale/app", image.config);
    await pushBlob(a.url, "scale/app", image.layers[0]!);
    const digest = await pushManifest(a.url, "scale/app", "1.0", image.manifest, image.manifestMediaType);
    for (const node of [b, c]) {
      const manifest = await pullManifest(node.url, "scale/app", "1.0");
      assert.equal(manifest?.digest, digest);
      assert.deepEqual(manifest?.content, image.manifest);
      assert.deepEqual(await pullBlob(node.url, "scale/app", image.layerDigests[0]!), image.layers[0]);
      const tags = (await (await fetch(`${node.url}/v2/scale/app/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ["1.0"]);
    }
  });

  it("completes a chunked upload whose PATCHes go round-robin to all three nodes", async () => {
    const blob = randomBytes(9 * 1024 * 1024 + 123);
    const chunk = 1024 * 1024;
    const start = await fetch(`${nodes[0]!.url}/v2/scale/chunks/blobs/uploads/`, { method: "POST" });
    assert.equal(start.status, 202);
    const path = start.headers.get("location")!;
    let offset = 0;
    let i = 0;
    while (offset < blob.length) {
      const node = nodes[i++ % 3]!;
      const part = blob.subarray(offset, offset + chunk);
      const res = await patchChunk(new URL(path, node.url).toString(), part, offset);
      assert.equal(res.status, 202, await res.text());
      offset += part.length;
      assert.equal(res.headers.get("range"), `0-${offset - 1}`);
    }
    const status = await fetch(new URL(path, nodes[1]!.url));
    assert.equal(status.headers.get("range"), `0-${blob.length - 1}`, "any node reports the same progress");
    const done = await fetch(withQuery(new URL(path, nodes[2]!.url).toString(), { digest: sha256(blob) }), { method: "PUT" });
    assert.equal(done.status, 201, await done.text());
    assert.deepEqual(await pullBlob(nodes[0]!.url, "scale/chunks", sha256(blob)), blob);
  });

  it("settles concurrent pushes of one tag through different nodes on exactly one manifest", async () => {
    const images = nodes.map(() => makeImage({ layers: [randomBytes(50_000)] }));
    await Promise.all(
      images.map(async (image, i) => {
        const node = nodes[i]!;
        await pushBlob(node.url, "scale/race", image.config);
        await pushBlob(node.url, "scale/race", image.layers[0]!);
      }),
    );
    for (let round = 0; round < 5; round++) {
      const digests = await Promise.all(
        images.map((image, i) => pushManifest(nodes[i]!.url, "scale/race", "latest", image.manifest, image.manifestMediaType)),
      );
      const seen = await Promise.all(
        nodes.map(async (n) => (await fetch(`${n.url}/v2/scale/race/manifests/latest`, { method: "HEAD" })).headers.get("docker-content-digest")),
      );
      assert.equal(new Set(seen).size, 1, "every node sees the same winner");
      assert.ok(digests.includes(seen[0]!));
      for (const [i, digest] of digests.entries()) {
        const byDigest = await pullManifest(nodes[(i + 1) % 3]!.url, "scale/race", digest);
        assert.deepEqual(byDigest?.content, images[i]!.manifest, "the losers stay reachable by digest");
      }
    }
  });

  it("answers a blob pushed on one node when another node is asked to mount it", async () => {
    const blob = randomBytes(4096);
    await pushBlob(nodes[0]!.url, "scale/src", blob);
    assert.equal(await withClient(nodes[1]!.url, (c) => c.mountBlob("scale/dst", sha256(blob) as Digest, "scale/src")), true);
    assert.deepEqual(await pullBlob(nodes[2]!.url, "scale/dst", sha256(blob)), blob);
  });

  describe("with a real client", { skip: skipUnlessTools("skopeo") }, () => {
    it("skopeo pushes through one node and copies back through another, digests intact", async () => {
      const dir = await mkdtemp(join(tmpdir(), "berth-layout-"));
      try {
        const layout = await writeImageLayout(join(dir, "in"), { ref: "v1", layers: [{ files: { "a.txt": "node a" } }, { randomBytes: 6 * 1024 * 1024, seed: 7 }] });
        await run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${layout.dir}:v1`, `docker://${nodes[0]!.host}/scale/skopeo:v1`]);
        const inspect = JSON.parse(
          (await run("skopeo", ["inspect", "--tls-verify=false", `docker://${nodes[1]!.host}/scale/skopeo:v1`])).stdout,
        ) as { Digest: string };
        assert.equal(inspect.Digest, layout.manifestDigest);
        await run("skopeo", ["copy", "--src-tls-verify=false", `docker://${nodes[2]!.host}/scale/skopeo:v1`, `oci:${join(dir, "out")}:v1`]);
        const out = JSON.parse(
          (await run("skopeo", ["inspect", "--raw", `oci:${join(dir, "out")}:v1`])).stdout,
        ) as { layers: { digest: string }[] };
        assert.deepEqual(out.layers.map((l) => l.digest), layout.layerDigests);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
