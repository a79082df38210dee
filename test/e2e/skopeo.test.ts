// skopeo 1.9 against a real `berth serve`: OCI layouts in and out, multi-arch indexes, cross-repository
// mounts, delete, and an OCI 1.1 artifact with a subject. skopeo HEADs every blob, mounts blobs it has seen
// in another repository of the same registry, else sends one PATCH with Content-Length and an empty PUT.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { MediaTypes, sha256 } from "../helpers/fixtures.js";
import {
  writeArtifactLayout,
  writeImageLayout,
  writeMultiArchLayout,
  type ImageLayout,
  type MultiArchLayout,
} from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { containersEnv, layoutBlob, lowercaseTempDir, removeTree, requestLog, showRequests } from "./support.js";

const MiB = 1 << 20;
const RANDOM_LAYER = 20 * MiB;

interface Inspect {
  Digest: string;
  Layers: string[];
  Architecture: string;
}

interface Index {
  mediaType?: string;
  manifests: { mediaType: string; digest: string; size: number; artifactType?: string; platform?: { architecture: string; os: string } }[];
}

/** Checks that every blob of an OCI layout hashes to its name, and returns the digests. */
async function layoutDigests(dir: string): Promise<string[]> {
  const names = (await readdir(join(dir, "blobs", "sha256"))).filter((n) => !n.startsWith("."));
  for (const name of names) {
    const hex = createHash("sha256").update(await readFile(join(dir, "blobs", "sha256", name))).digest("hex");
    assert.equal(hex, name, `blob ${name} of ${dir} does not match its content`);
  }
  return names.map((n) => `sha256:${n}`).sort();
}

describe("skopeo against berth serve", { skip: skipUnlessTools("skopeo") }, () => {
  let root: string;
  let berth: BerthProcess;
  let env: Record<string, string>;
  let app: ImageLayout;
  let multi: MultiArchLayout;

  const skopeo = (args: string[], allowFail = false) => run("skopeo", args, { env, allowFail, timeoutMs: 120_000 });
  const ref = (name: string) => `docker://${berth.host}/${name}`;
  /** skopeo copy from an OCI layout (or any transport) into Berth. */
  const pushTo = (src: string, dest: string, extra: string[] = []) =>
    skopeo(["copy", "--preserve-digests", "--dest-tls-verify=false", ...extra, src, ref(dest)]);
  /** skopeo copy from Berth into a fresh OCI layout under the temp dir. */
  const pullTo = (src: string, dir: string, tag: string, extra: string[] = []) =>
    skopeo(["copy", "--preserve-digests", "--src-tls-verify=false", ...extra, ref(src), `oci:${join(root, dir)}:${tag}`]);
  const inspect = async (name: string): Promise<Inspect> =>
    JSON.parse((await skopeo(["inspect", "--tls-verify=false", ref(name)])).stdout) as Inspect;
  const inspectRaw = async (name: string): Promise<string> => (await skopeo(["inspect", "--raw", "--tls-verify=false", ref(name)])).stdout;
  const appSrc = () => `oci:${app.dir}:${app.ref}`;

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-skopeo");
    env = await containersEnv(join(root, "containers"));
    berth = await spawnBerth(join(root, "data"));
    app = await writeImageLayout(join(root, "app"), {
      ref: "1.0",
      layers: [{ files: { "etc/motd": "welcome to berth\n", "app/run.sh": "#!/bin/sh\necho hi\n" } }, { randomBytes: RANDOM_LAYER, seed: 7, path: "/data/blob.bin" }],
    });
    multi = await writeMultiArchLayout(join(root, "multi"), {
      ref: "v1",
      platforms: [
        { arch: "amd64", layers: [{ files: { "arch.txt": "amd64\n" } }] },
        { arch: "arm64", layers: [{ files: { "arch.txt": "arm64\n" } }] },
      ],
    });
  });

  after(async () => {
    await berth?.stop();
    if (root) await removeTree(root);
  });

  it("skopeo copy of a two-layer OCI layout then skopeo inspect shows the same digest and layers", async () => {
    await pushTo(appSrc(), "team/app:1.0");
    const info = await inspect("team/app:1.0");
    assert.equal(info.Digest, app.manifestDigest);
    assert.deepEqual(info.Layers, app.layerDigests);
    assert.equal(info.Architecture, "amd64");
  });

  it("skopeo inspect --raw returns the pushed manifest byte for byte", async () => {
    await pushTo(appSrc(), "team/app:1.0");
    const raw = await inspectRaw("team/app:1.0");
    const original = await layoutBlob(app.dir, app.manifestDigest);
    assert.equal(raw, original.toString("utf8"));
    assert.equal(sha256(raw), app.manifestDigest);
  });

  it("skopeo list-tags lists 1.0 and a second tag copied registry to registry", async () => {
    await pushTo(appSrc(), "team/app:1.0");
    await skopeo(["copy", "--src-tls-verify=false", "--dest-tls-verify=false", ref("team/app:1.0"), ref("team/app:stable")]);
    const tags = JSON.parse((await skopeo(["list-tags", "--tls-verify=false", ref("team/app")])).stdout) as { Tags: string[] };
    assert.deepEqual([...tags.Tags].sort(), ["1.0", "stable"]);
    assert.equal((await inspect("team/app:stable")).Digest, app.manifestDigest);
  });

  it("skopeo copy back to a fresh OCI layout returns every blob with its digest", async () => {
    await pushTo(appSrc(), "team/app:1.0");
    await pullTo("team/app:1.0", "back", "1.0");
    const back = join(root, "back");
    const index = JSON.parse(await readFile(join(back, "index.json"), "utf8")) as Index;
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0]!.digest, app.manifestDigest);
    const expected = [app.manifestDigest, app.configDigest, ...app.layerDigests].sort();
    assert.deepEqual(await layoutDigests(back), expected);
    const big = app.layerDigests[1]!;
    assert.ok((await layoutBlob(back, big)).length > RANDOM_LAYER, "the random layer came back whole");
  });

  it("skopeo copy --all of a multi-arch index and back keeps the index digest and both platforms", async () => {
    await pushTo(`oci:${multi.dir}:${multi.ref}`, "team/multi:v1", ["--all"]);
    const raw = await inspectRaw("team/multi:v1");
    assert.equal(sha256(raw), multi.indexDigest, "index stored byte for byte");
    const index = JSON.parse(raw) as Index;
    assert.deepEqual(
      index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort(),
      ["linux/amd64", "linux/arm64"],
    );
    for (const child of multi.children) {
      const childRaw = await inspectRaw(`team/multi@${child.manifestDigest}`);
      assert.equal(sha256(childRaw), child.manifestDigest, `${child.platform.architecture} manifest present`);
    }

    await pullTo("team/multi:v1", "multi-back", "v1", ["--all"]);
    const back = join(root, "multi-back");
    const top = JSON.parse(await readFile(join(back, "index.json"), "utf8")) as Index;
    assert.equal(top.manifests[0]?.digest, multi.indexDigest);
    const expected = [multi.indexDigest, ...multi.children.flatMap((c) => [c.manifestDigest, c.configDigest, ...c.layerDigests])].sort();
    assert.deepEqual(await layoutDigests(back), expected);
  });

  it("skopeo copy between two Berth repositories mounts the layers and the copy is intact", async () => {
    await pushTo(appSrc(), "a:x");
    const before = requestLog(berth).length;
    await skopeo(["copy", "--src-tls-verify=false", "--dest-tls-verify=false", ref("a:x"), ref("b:x")]);
    const sent = requestLog(berth).slice(before);

    const mounted = sent
      .filter((r) => r.method === "POST" && r.path.startsWith("/v2/b/blobs/uploads/") && r.status === 201)
      .map((r) => new URL(r.path, "http://x").searchParams)
      .filter((q) => q.get("from") === "a")
      .map((q) => q.get("mount"));
    assert.deepEqual(mounted.sort(), [...app.layerDigests].sort(), `every layer mounted from a:\n${showRequests(sent)}`);
    const bigUploads = sent.filter((r) => r.path.startsWith("/v2/b/blobs/uploads/") && (r.bytesIn ?? 0) >= RANDOM_LAYER);
    assert.deepEqual(bigUploads, [], "the 20 MiB layer was not uploaded again");

    assert.equal((await inspect("b:x")).Digest, app.manifestDigest);
    await pullTo("b:x", "b-back", "x");
    assert.deepEqual(await layoutDigests(join(root, "b-back")), [app.manifestDigest, app.configDigest, ...app.layerDigests].sort());
  });

  it("skopeo delete of a tag then skopeo inspect fails with manifest unknown", async () => {
    await pushTo(appSrc(), "team/app:1.0");
    assert.equal((await inspect("team/app:1.0")).Digest, app.manifestDigest);
    await skopeo(["delete", "--tls-verify=false", ref("team/app:1.0")]);

    const byTag = await skopeo(["inspect", "--tls-verify=false", ref("team/app:1.0")], true);
    assert.notEqual(byTag.code, 0, "inspect after delete must fail");
    assert.match(byTag.stderr, /manifest unknown/i);
    const byDigest = await skopeo(["inspect", "--raw", "--tls-verify=false", ref(`team/app@${app.manifestDigest}`)], true);
    assert.notEqual(byDigest.code, 0, "the manifest is gone by digest too");
    assert.match(byDigest.stderr, /manifest unknown/i);
    const tags = JSON.parse((await skopeo(["list-tags", "--tls-verify=false", ref("team/app")])).stdout) as { Tags: string[] | null };
    assert.ok(!(tags.Tags ?? []).includes("1.0"), `1.0 still listed: ${JSON.stringify(tags)}`);
  });

  it("skopeo copy of an OCI artifact with a subject makes GET /v2/<name>/referrers list it", async () => {
    await pushTo(appSrc(), "team/signed:1.0");
    const subjectBytes = await layoutBlob(app.dir, app.manifestDigest);
    const artifactType = "application/vnd.example.sbom.v1+json";
    const artifact = await writeArtifactLayout(join(root, "artifact"), {
      ref: "sbom",
      artifactType,
      blobs: [{ content: JSON.stringify({ packages: ["berth"] }), mediaType: "application/vnd.example.sbom.v1+json" }],
      subject: { mediaType: MediaTypes.ociManifest, digest: app.manifestDigest, size: subjectBytes.length },
      annotations: { "org.opencontainers.image.created": "1970-01-01T00:00:00Z" },
    });
    await pushTo(`oci:${artifact.dir}:${artifact.ref}`, "team/signed:sbom");
    assert.equal(sha256(await inspectRaw("team/signed:sbom")), artifact.manifestDigest, "skopeo pushed the artifact unchanged");

    const res = await fetch(`${berth.url}/v2/team/signed/referrers/${app.manifestDigest}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/vnd\.oci\.image\.index\.v1\+json/);
    const referrers = (await res.json()) as Index;
    const listed = referrers.manifests.filter((m) => m.digest === artifact.manifestDigest);
    assert.equal(listed.length, 1, `artifact listed once: ${JSON.stringify(referrers)}`);
    assert.equal(listed[0]!.artifactType, artifactType);
    assert.equal(listed[0]!.mediaType, MediaTypes.ociManifest);

    // Filtering is optional in the spec: when Berth says it applied it, the result must honour it.
    const referrersOf = async (type: string) => {
      const r = await fetch(`${berth.url}/v2/team/signed/referrers/${app.manifestDigest}?artifactType=${encodeURIComponent(type)}`);
      assert.equal(r.status, 200);
      const filtered = (r.headers.get("oci-filters-applied") ?? "").split(",").includes("artifactType");
      return { filtered, digests: ((await r.json()) as Index).manifests.map((m) => m.digest) };
    };
    const same = await referrersOf(artifactType);
    assert.ok(same.digests.includes(artifact.manifestDigest), "filter on its own artifactType keeps it");
    const other = await referrersOf("application/vnd.example.other");
    assert.equal(other.digests.includes(artifact.manifestDigest), !other.filtered, "a filter on another artifactType drops it");
  });
});
