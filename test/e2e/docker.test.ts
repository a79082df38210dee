// The Docker engine (a private dockerd) against a real `berth serve`, without network: images come from
// OCI layouts via skopeo's docker-archive and `docker load`. Docker recompresses layers, sends one chunked
// PATCH per blob without Content-Type/Content-Range, and pushes Docker schema2 manifests.
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { startDockerd, type Dockerd } from "../helpers/dockerd.js";
import { MediaTypes, sha256 } from "../helpers/fixtures.js";
import { randomChunks, writeImageLayout, writeMultiArchLayout, type ImageLayout, type LayerSpec } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { berthDigest, containersEnv, lowercaseTempDir, MANIFEST_ACCEPT, removeTree, requestLog, showRequests } from "./support.js";

const MiB = 1 << 20;
const PAYLOAD = 8 * MiB;
const PAYLOAD_SEED = 11;

async function expectedPayloadDigest(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of randomChunks(PAYLOAD, PAYLOAD_SEED)) chunks.push(chunk);
  return sha256(Buffer.concat(chunks));
}

describe("docker against berth serve", { skip: skipUnlessTools("dockerd", "docker", "skopeo") }, () => {
  let root: string;
  let berth: BerthProcess;
  let dockerd: Dockerd;
  let skopeoEnv: Record<string, string>;
  /** The layer both images share. */
  const base: LayerSpec = { files: { "etc/app.conf": "name=berth\n" } };
  let app: ImageLayout;
  let app2: ImageLayout;
  const archives = new Set<string>();

  const docker = (...args: string[]) => run("docker", args, { env: dockerd.env, timeoutMs: 120_000 });
  const skopeo = (...args: string[]) => run("skopeo", args, { env: skopeoEnv, timeoutMs: 120_000 });

  /** Without a network: OCI layout → docker-archive (skopeo) → docker load. Returns the local name. */
  async function load(layout: ImageLayout, name: string): Promise<string> {
    const archive = join(root, `${name}.tar`);
    const local = `berth-src/${name}:latest`;
    if (!archives.has(archive)) {
      await skopeo("copy", `oci:${layout.dir}:${layout.ref}`, `docker-archive:${archive}:${local}`);
      archives.add(archive);
    }
    await docker("load", "-i", archive);
    return local;
  }

  /** docker push; returns the whole output and the digest docker printed. */
  async function push(ref: string): Promise<{ output: string; digest: string }> {
    const { stdout } = await docker("push", ref);
    const match = /digest: (sha256:[0-9a-f]{64})/.exec(stdout);
    assert.ok(match, `docker push printed a digest:\n${stdout}`);
    return { output: stdout, digest: match[1]! };
  }

  /** docker create + docker cp: the bytes of one file of an image. */
  async function fileInImage(image: string, path: string): Promise<Buffer> {
    const container = (await docker("create", image)).stdout.trim();
    try {
      const out = join(root, "cp", container.slice(0, 12));
      await mkdir(out, { recursive: true });
      await docker("cp", `${container}:${path}`, out);
      return await readFile(join(out, path.split("/").pop()!));
    } finally {
      await docker("rm", container);
    }
  }

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-docker");
    skopeoEnv = await containersEnv(join(root, "containers"));
    berth = await spawnBerth(join(root, "data"));
    dockerd = await startDockerd();
    app = await writeImageLayout(join(root, "app"), {
      ref: "1",
      layers: [base, { randomBytes: PAYLOAD, seed: PAYLOAD_SEED, path: "/data/payload.bin" }],
    });
    app2 = await writeImageLayout(join(root, "app2"), { ref: "2", layers: [base, { files: { "etc/version": "2\n" } }] });
  });

  after(async () => {
    await dockerd?.stop();
    await berth?.stop();
    if (root) await removeTree(root);
  });

  it("docker push, docker rmi, then docker pull of a two-layer image round-trips", async () => {
    const local = await load(app, "app");
    const remote = `${berth.host}/dock/app:1.0`;
    await docker("tag", local, remote);
    const before = requestLog(berth).length;
    const pushed = await push(remote);
    const digest = await berthDigest(berth.url, "dock/app", "1.0");
    assert.equal(digest, pushed.digest, "Berth's Docker-Content-Digest is what docker push printed");

    const stored = await fetch(`${berth.url}/v2/dock/app/manifests/1.0`, { headers: { Accept: MANIFEST_ACCEPT } });
    assert.equal(stored.headers.get("content-type"), MediaTypes.dockerManifest, "docker pushed a schema2 manifest");
    assert.equal(sha256(Buffer.from(await stored.arrayBuffer())), digest);
    const sent = requestLog(berth).slice(before);
    const patches = sent.filter((r) => r.method === "PATCH");
    assert.ok(patches.length >= 2 && patches.every((r) => r.status === 202), `docker's PATCHes accepted:\n${showRequests(sent)}`);

    await docker("rmi", remote, local);
    const gone = await run("docker", ["image", "inspect", remote], { env: dockerd.env, allowFail: true });
    assert.notEqual(gone.code, 0, "the image is gone locally before the pull");

    await docker("pull", remote);
    const repoDigests = JSON.parse((await docker("image", "inspect", "--format", "{{json .RepoDigests}}", remote)).stdout) as string[];
    assert.deepEqual(repoDigests, [`${berth.host}/dock/app@${digest}`]);
    assert.equal((await fileInImage(remote, "/etc/app.conf")).toString("utf8"), "name=berth\n");
    assert.equal(sha256(await fileInImage(remote, "/data/payload.bin")), await expectedPayloadDigest(), "8 MiB payload intact");
  });

  it("docker push of a second image sharing a layer reports it already exists, then mounted", async () => {
    // the first image, as a user would have pushed it earlier
    await docker("tag", await load(app, "app"), `${berth.host}/dock/app:1.0`);
    await push(`${berth.host}/dock/app:1.0`);

    await docker("tag", await load(app2, "app2"), `${berth.host}/dock/app:2.0`);
    const sameRepo = await push(`${berth.host}/dock/app:2.0`);
    assert.match(sameRepo.output, /Layer already exists/, "the shared layer is not sent again");
    assert.equal(sameRepo.output.match(/: Pushed/g)?.length, 1, `only the new layer is pushed:\n${sameRepo.output}`);

    await docker("tag", `${berth.host}/dock/app:2.0`, `${berth.host}/dock/other:1.0`);
    const before = requestLog(berth).length;
    const otherRepo = await push(`${berth.host}/dock/other:1.0`);
    assert.match(otherRepo.output, /Mounted from dock\/app/, "layers are mounted across repositories");
    assert.doesNotMatch(otherRepo.output, /: Pushed/, `no layer uploaded again:\n${otherRepo.output}`);
    const sent = requestLog(berth).slice(before);
    assert.ok(
      sent.some((r) => r.method === "POST" && /[?&]mount=/.test(r.path) && /[?&]from=dock%2Fapp/.test(r.path) && r.status === 201),
      `a mount from dock/app was answered 201:\n${showRequests(sent)}`,
    );
    assert.equal(otherRepo.digest, sameRepo.digest, "same image, same manifest digest");
    assert.equal(await berthDigest(berth.url, "dock/other", "1.0"), otherRepo.digest);

    const manifest = (await (
      await fetch(`${berth.url}/v2/dock/other/manifests/1.0`, { headers: { Accept: MANIFEST_ACCEPT } })
    ).json()) as { layers: { digest: string }[] };
    for (const layer of manifest.layers) {
      const head = await fetch(`${berth.url}/v2/dock/other/blobs/${layer.digest}`, { method: "HEAD" });
      assert.equal(head.status, 200, `dock/other serves mounted layer ${layer.digest}`);
    }
  });

  it("docker pull of a multi-arch index pushed by skopeo --all picks the engine's platform", async () => {
    const multi = await writeMultiArchLayout(join(root, "multi"), {
      ref: "v1",
      platforms: [
        { arch: "amd64", layers: [{ files: { "arch.txt": "amd64\n" } }] },
        { arch: "arm64", layers: [{ files: { "arch.txt": "arm64\n" } }] },
      ],
    });
    await skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false", `oci:${multi.dir}:v1`, `docker://${berth.host}/dock/multi:v1`);
    const engineArch = (await docker("version", "--format", "{{.Server.Arch}}")).stdout.trim();
    const expected = multi.children.find((c) => c.platform.architecture === engineArch);
    assert.ok(expected, `fixture has no image for the engine's arch ${engineArch}`);

    const remote = `${berth.host}/dock/multi:v1`;
    const { stdout } = await docker("pull", remote);
    assert.match(stdout, new RegExp(`Digest: ${multi.indexDigest}`), "docker reports the index digest");
    const info = JSON.parse((await docker("image", "inspect", "--format", "{{json .}}", remote)).stdout) as {
      Id: string;
      Architecture: string;
      RepoDigests: string[];
    };
    assert.equal(info.Architecture, engineArch);
    assert.equal(info.Id, expected.configDigest, `the ${engineArch} image was pulled`);
    assert.deepEqual(info.RepoDigests, [`${berth.host}/dock/multi@${multi.indexDigest}`]);
    assert.equal((await fileInImage(remote, "/arch.txt")).toString("utf8"), `${engineArch}\n`);
  });
});
