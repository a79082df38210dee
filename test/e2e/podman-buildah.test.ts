// buildah and podman against a real `berth serve`, each with its own containers-storage. They compress
// layers on the fly, so every layer arrives as one chunked PATCH without Content-Length or Content-Range.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { sha256 } from "../helpers/fixtures.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { berthDigest, containersEnv, lowercaseTempDir, removeTree, requestLog, showRequests, tarFile } from "./support.js";

const MiB = 1 << 20;

interface Index {
  manifests: { digest: string; platform?: { architecture: string; os: string } }[];
}

describe("podman and buildah against berth serve", { skip: skipUnlessTools("podman", "buildah", "skopeo") }, () => {
  let root: string;
  let berth: BerthProcess;
  /** containers-storage where buildah builds. */
  let buildEnv: Record<string, string>;
  /** A second, empty containers-storage for podman pull. */
  let pullEnv: Record<string, string>;
  const hello = `hello from buildah ${randomBytes(8).toString("hex")}\n`;
  const payload = randomBytes(8 * MiB);
  /** Manifest digest buildah reported for pb/one:v1; set by the first test. */
  let pushedDigest: string | undefined;

  const tool = (cmd: string, args: string[], env: Record<string, string>) => run(cmd, args, { env, timeoutMs: 120_000 });
  const buildah = (...args: string[]) => tool("buildah", args, buildEnv);
  const podman = (...args: string[]) => tool("podman", args, pullEnv);
  const skopeoRaw = async (name: string) =>
    (await tool("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${berth.host}/${name}`], pullEnv)).stdout;
  const needPushed = (): string => {
    assert.ok(pushedDigest, "needs the image from the buildah push test");
    return pushedDigest;
  };

  /** buildah from scratch + copy + config + commit; returns the local image name. */
  async function buildScratch(name: string, arch: string, files: Record<string, string | Buffer>): Promise<string> {
    const context = join(root, "context", name.replace(/[/:]/g, "-"));
    await mkdir(context, { recursive: true });
    const container = (await buildah("from", "scratch")).stdout.trim();
    try {
      for (const [path, content] of Object.entries(files)) {
        const local = join(context, path.replace(/\//g, "_"));
        await writeFile(local, content);
        await buildah("copy", container, local, `/${path}`);
      }
      await buildah("config", "--arch", arch, "--os", "linux", container);
      await buildah("commit", "-q", container, name);
    } finally {
      await buildah("rm", container);
    }
    return name;
  }

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-pb");
    buildEnv = await containersEnv(join(root, "build"));
    pullEnv = await containersEnv(join(root, "pull"));
    berth = await spawnBerth(join(root, "data"));
  });

  after(async () => {
    await berth?.stop();
    if (root) await removeTree(root);
  });

  it("buildah builds an image from scratch and buildah push streams it to Berth", async () => {
    const image = await buildScratch("localhost/pb/one:v1", "amd64", { "hello.txt": hello, "data/payload.bin": payload });
    const before = requestLog(berth).length;
    const digestFile = join(root, "one.digest");
    await buildah("push", "--tls-verify=false", "--digestfile", digestFile, image, `docker://${berth.host}/pb/one:v1`);
    pushedDigest = (await readFile(digestFile, "utf8")).trim();
    assert.match(pushedDigest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await berthDigest(berth.url, "pb/one", "v1"), pushedDigest, "Berth serves the digest buildah pushed");

    // buildah compresses on the fly: the layer arrives as one chunked PATCH of unknown length
    const sent = requestLog(berth).slice(before);
    const chunked = sent.filter((r) => r.method === "PATCH" && r.chunked === true && (r.bytesIn ?? 0) > 8 * MiB && r.status === 202);
    assert.ok(chunked.length >= 1, `a chunked PATCH was accepted:\n${showRequests(sent)}`);
    const manifest = JSON.parse(await skopeoRaw("pb/one:v1")) as { layers: { digest: string; size: number }[] };
    assert.equal(manifest.layers.length, 1);
    assert.ok(manifest.layers[0]!.size > 8 * MiB, "the 8 MiB file made it into the layer");
    const layer = await fetch(`${berth.url}/v2/pb/one/blobs/${manifest.layers[0]!.digest}`);
    assert.equal(layer.status, 200);
    assert.equal(sha256(Buffer.from(await layer.arrayBuffer())), manifest.layers[0]!.digest, "streamed layer stored intact");
  });

  it("podman pull into a fresh storage gets the same digest and the files copied in", async () => {
    const digest = needPushed();
    await podman("pull", "--tls-verify=false", `${berth.host}/pb/one:v1`);
    const inspected = (await podman("image", "inspect", "--format", "{{.Digest}}", `${berth.host}/pb/one:v1`)).stdout.trim();
    assert.equal(inspected, digest);

    const archive = join(root, "one.tar");
    await podman("save", "--format", "docker-archive", "-o", archive, `${berth.host}/pb/one:v1`);
    const saved = await readFile(archive);
    const [entry] = JSON.parse(tarFile(saved, "manifest.json").toString("utf8")) as { Layers: string[] }[];
    assert.equal(entry?.Layers.length, 1);
    const layerTar = tarFile(saved, entry!.Layers[0]!);
    assert.equal(tarFile(layerTar, "hello.txt").toString("utf8"), hello);
    assert.ok(tarFile(layerTar, "data/payload.bin").equals(payload), "the 8 MiB payload round-tripped");
  });

  it("podman push of a pulled image to another repository keeps its digest", async () => {
    const digest = needPushed();
    const digestFile = join(root, "copy.digest");
    await podman("push", "--tls-verify=false", "--digestfile", digestFile, `${berth.host}/pb/one:v1`, `docker://${berth.host}/pb/copy:v1`);
    const pushed = (await readFile(digestFile, "utf8")).trim();
    assert.equal(await berthDigest(berth.url, "pb/copy", "v1"), pushed, "Berth serves the digest podman pushed");
    assert.equal(pushed, digest, "an unchanged image keeps its manifest digest");
    const tags = (await (await fetch(`${berth.url}/v2/pb/copy/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ["v1"]);
    // the copy must be complete on its own: its layer is readable from pb/copy
    const manifest = JSON.parse(await skopeoRaw("pb/copy:v1")) as { layers: { digest: string }[]; config: { digest: string } };
    for (const blob of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      const head = await fetch(`${berth.url}/v2/pb/copy/blobs/${blob}`, { method: "HEAD" });
      assert.equal(head.status, 200, `pb/copy has ${blob}`);
    }
  });

  it("buildah manifest push --all sends a two-arch list that skopeo inspect --raw shows", async () => {
    needPushed();
    const arm = await buildScratch("localhost/pb/one-arm:v1", "arm64", { "arch.txt": "arm64\n", "data/arm.bin": randomBytes(2 * MiB) });
    const list = "localhost/pb/list:v1";
    await buildah("manifest", "create", list);
    await buildah("manifest", "add", list, "containers-storage:localhost/pb/one:v1");
    await buildah("manifest", "add", list, `containers-storage:${arm}`);
    const before = requestLog(berth).length;
    const digestFile = join(root, "list.digest");
    await buildah("manifest", "push", "--all", "--tls-verify=false", "--digestfile", digestFile, list, `docker://${berth.host}/pb/multi:v1`);
    const listDigest = (await readFile(digestFile, "utf8")).trim();

    const raw = await skopeoRaw("pb/multi:v1");
    assert.equal(sha256(raw), listDigest, "the list is stored byte for byte");
    const index = JSON.parse(raw) as Index;
    assert.deepEqual(index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort(), ["linux/amd64", "linux/arm64"]);
    for (const child of index.manifests) {
      const config = JSON.parse(
        (await tool("skopeo", ["inspect", "--config", "--raw", "--tls-verify=false", `docker://${berth.host}/pb/multi@${child.digest}`], pullEnv))
          .stdout,
      ) as { architecture: string };
      assert.equal(config.architecture, child.platform?.architecture, `${child.digest} is the ${child.platform?.architecture} image`);
    }
    const sent = requestLog(berth).slice(before);
    const failed = sent.filter((r) => r.status >= 400 && r.method !== "HEAD");
    assert.deepEqual(failed, [], `no request of the push failed:\n${showRequests(failed)}`);
  });
});
