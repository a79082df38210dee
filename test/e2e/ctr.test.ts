// ctr (the containerd that a private dockerd manages) against a real `berth serve`. ctr mounts blobs from
// the repository an image was pulled from, and otherwise uploads each blob whole in a single PUT ?digest=.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { startDockerd, type Dockerd } from "../helpers/dockerd.js";
import { writeImageLayout, writeMultiArchLayout, type ImageLayout, type MultiArchLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { containersEnv, lowercaseTempDir, removeTree, requestLog, runBytes, showRequests, tarFile } from "./support.js";

const MiB = 1 << 20;
const NAMESPACE = "berthtest";

interface ListedImage {
  ref: string;
  digest: string;
  platforms: string[];
}

describe("ctr (containerd) against berth serve", { skip: skipUnlessTools("dockerd", "ctr", "skopeo") }, () => {
  let root: string;
  let berth: BerthProcess;
  let dockerd: Dockerd;
  let skopeoEnv: Record<string, string>;
  let app: ImageLayout;
  let multi: MultiArchLayout;

  const ctr = (...args: string[]) => run("ctr", ["--address", dockerd.containerdAddress, "-n", NAMESPACE, ...args], { timeoutMs: 120_000 });
  const skopeo = (...args: string[]) => run("skopeo", args, { env: skopeoEnv, timeoutMs: 120_000 });
  const contentGet = (digest: string) => runBytes("ctr", ["--address", dockerd.containerdAddress, "-n", NAMESPACE, "content", "get", digest]);
  const inspectDigest = async (name: string) =>
    (JSON.parse((await skopeo("inspect", "--tls-verify=false", `docker://${berth.host}/${name}`)).stdout) as { Digest: string }).Digest;

  /** `ctr images ls`, parsed: REF TYPE DIGEST SIZE(2 columns) PLATFORMS LABELS. */
  async function listed(ref: string): Promise<ListedImage> {
    const { stdout } = await ctr("images", "ls");
    const row = stdout
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .find((cols) => cols[0] === ref);
    assert.ok(row, `ctr images ls shows ${ref}:\n${stdout}`);
    return { ref, digest: row[2]!, platforms: (row[5] ?? "").split(",").sort() };
  }

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-ctr");
    skopeoEnv = await containersEnv(join(root, "containers"));
    berth = await spawnBerth(join(root, "data"));
    dockerd = await startDockerd();
    app = await writeImageLayout(join(root, "app"), {
      ref: "1.0",
      layers: [{ files: { "etc/motd": "pulled by ctr\n" } }, { randomBytes: 4 * MiB, seed: 3 }],
    });
    multi = await writeMultiArchLayout(join(root, "multi"), {
      ref: "v1",
      platforms: [
        { arch: "amd64", layers: [{ files: { "arch.txt": "amd64\n" } }] },
        { arch: "arm64", layers: [{ files: { "arch.txt": "arm64\n" } }] },
      ],
    });
    const push = (src: string, dest: string, ...extra: string[]) =>
      skopeo("copy", "--preserve-digests", "--dest-tls-verify=false", ...extra, src, `docker://${berth.host}/${dest}`);
    await push(`oci:${app.dir}:1.0`, "team/app:1.0");
    await push(`oci:${multi.dir}:v1`, "team/multi:v1", "--all");
  });

  after(async () => {
    await dockerd?.stop();
    await berth?.stop();
    if (root) await removeTree(root);
  });

  it("ctr images pull --plain-http of an image pushed by skopeo gets the same digest and files", async () => {
    const ref = `${berth.host}/team/app:1.0`;
    await ctr("images", "pull", "--plain-http", ref);
    const image = await listed(ref);
    assert.equal(image.digest, app.manifestDigest);
    assert.deepEqual(image.platforms, ["linux/amd64"]);
    const layer = await contentGet(app.layerDigests[0]!);
    assert.equal(tarFile(layer, "etc/motd").toString("utf8"), "pulled by ctr\n");
  });

  it("ctr images push --plain-http to another repository keeps the digest skopeo sees", async () => {
    const source = `${berth.host}/team/app:1.0`;
    await ctr("images", "pull", "--plain-http", source);
    await ctr("images", "push", "--plain-http", `${berth.host}/ctr/copy:1.0`, source);
    assert.equal(await inspectDigest("ctr/copy:1.0"), app.manifestDigest);
    for (const blob of [app.configDigest, ...app.layerDigests]) {
      const head = await fetch(`${berth.url}/v2/ctr/copy/blobs/${blob}`, { method: "HEAD" });
      assert.equal(head.status, 200, `ctr/copy has ${blob}`);
    }
  });

  it("ctr images import then push sends each blob in one PUT and keeps the digest", async () => {
    const local = await writeImageLayout(join(root, "local"), {
      ref: "1.0",
      layers: [{ files: { "etc/origin": "imported\n" } }, { randomBytes: 3 * MiB }],
    });
    const archive = join(root, "local.tar");
    await skopeo("copy", `oci:${local.dir}:1.0`, `oci-archive:${archive}:1.0`);
    const ref = `${berth.host}/ctr/imported:1.0`;
    await ctr("images", "import", "--base-name", `${berth.host}/ctr/imported`, archive);
    assert.equal((await listed(ref)).digest, local.manifestDigest);

    const before = requestLog(berth).length;
    await ctr("images", "push", "--plain-http", ref);
    const sent = requestLog(berth).slice(before);
    assert.equal(await inspectDigest("ctr/imported:1.0"), local.manifestDigest);

    // nothing to mount from (the image never came from a registry): the whole blob rides on the PUT
    const big = local.layerDigests[1]!;
    const put = sent.find((r) => r.method === "PUT" && r.path.includes(`digest=${encodeURIComponent(big)}`));
    assert.ok(put, `a PUT ?digest= for the 3 MiB layer:\n${showRequests(sent)}`);
    assert.equal(put.status, 201);
    assert.ok((put.bytesIn ?? 0) > 3 * MiB, `the PUT carried the layer (${put.bytesIn} bytes)`);
    const blob = await fetch(`${berth.url}/v2/ctr/imported/blobs/${big}`);
    assert.equal(blob.status, 200);
    assert.equal(blob.headers.get("docker-content-digest"), big);
    assert.ok(Number(blob.headers.get("content-length")) > 3 * MiB);
    await blob.arrayBuffer();
  });

  it("ctr images pull --plain-http --all-platforms fetches every platform of a multi-arch image", async () => {
    const ref = `${berth.host}/team/multi:v1`;
    await ctr("images", "pull", "--plain-http", "--all-platforms", ref);
    const image = await listed(ref);
    assert.equal(image.digest, multi.indexDigest);
    assert.deepEqual(image.platforms, ["linux/amd64", "linux/arm64"]);
    const content = (await ctr("content", "ls", "-q")).stdout.split("\n").map((l) => l.trim());
    for (const child of multi.children) {
      for (const digest of [child.manifestDigest, child.configDigest, ...child.layerDigests]) {
        assert.ok(content.includes(digest), `${child.platform.architecture}: ${digest} fetched`);
      }
      const layer = await contentGet(child.layerDigests[0]!);
      assert.equal(tarFile(layer, "arch.txt").toString("utf8"), `${child.platform.architecture}\n`);
    }
  });
});
