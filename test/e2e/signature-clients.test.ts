// skopeo 1.9 and podman 4.3 pulling under signature policies. Debian builds both with sigstore signing disabled,
// so each signature is made in cosign's format by the test helpers and pushed to an unpoliced staging repository;
// skopeo then copies the image WITH its sigstore attachment into the policed one (use-sigstore-attachments), so
// the `.sig` manifest Berth verifies is the one the real client wrote.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { createCosignKeyPair, type CosignKeyPair } from "../helpers/cosign-keys.js";
import { writeImageLayout, writeMultiArchLayout, type ImageLayout, type MultiArchLayout } from "../helpers/oci-layout.js";
import { pushBlob, pushManifest } from "../helpers/push.js";
import { cosignSign, cosignSignatureManifest, simpleSigningPayload } from "../helpers/signatures.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { containersEnv, lowercaseTempDir, removeTree } from "./support.js";

describe("skopeo and podman pulls under signature policies", { skip: skipUnlessTools("skopeo", "podman") }, () => {
  let root: string;
  let berth: TestBerth;
  let env: Record<string, string>;
  let registriesD: string;
  let keys: CosignKeyPair;
  let other: CosignKeyPair;
  let app: ImageLayout;
  let multi: MultiArchLayout;
  let count = 0;

  const ref = (name: string) => `docker://${berth.host}/${name}`;
  const skopeo = (args: string[], allowFail = false) =>
    run("skopeo", ["--registries.d", registriesD, "--insecure-policy", ...args], { env, allowFail, timeoutMs: 120_000 });
  const copy = (src: string, dest: string, extra: string[] = [], allowFail = false) =>
    skopeo(["copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", ...extra, src, dest], allowFail);
  const pullToLayout = (name: string, extra: string[] = []) => copy(ref(name), `oci:${join(root, "out", `${++count}`)}:x`, ["--remove-signatures", ...extra], true);
  const podman = (args: string[]) => run("podman", args, { env, allowFail: true, timeoutMs: 120_000 });
  const sigTag = (digest: string) => `${digest.replace(":", "-")}.sig`;
  /** Signs `digest` with `key` into the unpoliced staging repository `stage`. */
  const stageSignature = async (stage: string, digest: string, key: CosignKeyPair) => {
    const payload = simpleSigningPayload(digest, `${berth.host}/${stage}`);
    const sig = cosignSignatureManifest([{ payload, signature: cosignSign(key.privateKey, payload) }]);
    for (const blob of sig.blobs.values()) await pushBlob(berth.url, stage, blob);
    await pushManifest(berth.url, stage, sigTag(digest), sig.artifact.content, sig.artifact.mediaType);
  };

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-sigs");
    env = await containersEnv(join(root, "containers"));
    await mkdir(join(root, "out"), { recursive: true });
    keys = await createCosignKeyPair(join(root, "keys"));
    other = await createCosignKeyPair(join(root, "other"));
    const config = join(root, "berth.yaml");
    await writeFile(config, JSON.stringify({
      signatures: {
        policies: [
          { repositories: ["prod/*"], mode: "enforce", cosignKeys: [keys.publicKeyPath] },
          { repositories: ["lax/*"], mode: "report", cosignKeys: [keys.publicKeyPath] },
        ],
      },
    }));
    berth = await startBerth({ BERTH_CONFIG: config });
    registriesD = join(root, "registries.d");
    await mkdir(registriesD, { recursive: true });
    await writeFile(join(registriesD, "berth.yaml"), `docker:\n  ${berth.host}:\n    use-sigstore-attachments: true\n`);
    app = await writeImageLayout(join(root, "app"), { ref: "v1", layers: [{ files: { "app.txt": "signed app\n" } }] });
    multi = await writeMultiArchLayout(join(root, "multi"), {
      ref: "v1",
      platforms: [
        { arch: "amd64", layers: [{ files: { "arch.txt": "amd64\n" } }] },
        { arch: "arm64", layers: [{ files: { "arch.txt": "arm64\n" } }] },
      ],
    });
    await copy(`oci:${app.dir}:v1`, ref("stage/app:v1"), ["--preserve-digests"]);
    await stageSignature("stage/app", app.manifestDigest, keys);
    await copy(ref("stage/app:v1"), ref("prod/app:v1"));
  });
  after(async () => {
    await berth?.stop();
    if (root) await removeTree(root);
  });

  it("skopeo carried the signature into prod/app, and skopeo and podman pull the signed image", async () => {
    const sig = await skopeo(["inspect", "--raw", "--tls-verify=false", ref(`prod/app:${sigTag(app.manifestDigest)}`)]);
    assert.match(sig.stdout, /application\/vnd\.dev\.cosign\.simplesigning\.v1\+json/, "the .sig manifest stays pullable");
    const pulled = await pullToLayout("prod/app:v1");
    assert.equal(pulled.code, 0, pulled.stderr);
    const podmanPull = await podman(["pull", "--tls-verify=false", `${berth.host}/prod/app:v1`]);
    assert.equal(podmanPull.code, 0, podmanPull.stderr);
    const res = await fetch(`${berth.url}/v2/prod/app/manifests/v1`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    assert.equal(res.headers.get("berth-signature"), "verified");
  });

  it("refuses an unsigned image: skopeo's and podman's stderr show the 403 naming the policy", async () => {
    const unsigned = await writeImageLayout(join(root, "unsigned"), { ref: "v1", layers: [{ files: { "other.txt": "unsigned\n" } }] });
    await copy(`oci:${unsigned.dir}:v1`, ref("prod/other:v1"), ["--preserve-digests"]);
    const pulled = await pullToLayout("prod/other:v1");
    assert.notEqual(pulled.code, 0);
    assert.match(pulled.stderr, /signatures\.policies\[0\] \(prod\/\*\) requires a valid signature from a trusted key .* no signature found/);
    const podmanPull = await podman(["pull", "--tls-verify=false", `${berth.host}/prod/other:v1`]);
    assert.notEqual(podmanPull.code, 0);
    assert.match(podmanPull.stderr, /signatures\.policies\[0\] \(prod\/\*\)/);
  });

  it("refuses an image signed with another key, saying the signature does not verify", async () => {
    const image = await writeImageLayout(join(root, "wrong"), { ref: "v1", layers: [{ files: { "w.txt": "wrong key\n" } }] });
    await copy(`oci:${image.dir}:v1`, ref("stage/wrong:v1"), ["--preserve-digests"]);
    await stageSignature("stage/wrong", image.manifestDigest, other);
    await copy(ref("stage/wrong:v1"), ref("prod/wrong:v1"));
    const pulled = await pullToLayout("prod/wrong:v1");
    assert.notEqual(pulled.code, 0);
    assert.match(pulled.stderr, /cosign signature sha256:[0-9a-f]{64} refused: signature does not verify/);
  });

  it("refuses a signature for another digest that skopeo copied under this image's .sig tag", async () => {
    const image = await writeImageLayout(join(root, "copied"), { ref: "v1", layers: [{ files: { "c.txt": "copied sig\n" } }] });
    await copy(`oci:${image.dir}:v1`, ref("prod/copied:v1"), ["--preserve-digests"]);
    await copy(ref(`prod/app:${sigTag(app.manifestDigest)}`), ref(`prod/copied:${sigTag(image.manifestDigest)}`), ["--preserve-digests"]);
    const pulled = await pullToLayout("prod/copied:v1");
    assert.notEqual(pulled.code, 0);
    assert.ok(pulled.stderr.includes(`signature is for ${app.manifestDigest}, not ${image.manifestDigest}`), pulled.stderr);
  });

  it("under report, an unsigned image pulls with Berth-Signature: unsigned", async () => {
    const image = await writeImageLayout(join(root, "lax"), { ref: "v1", layers: [{ files: { "l.txt": "lax\n" } }] });
    await copy(`oci:${image.dir}:v1`, ref("lax/app:v1"), ["--preserve-digests"]);
    const pulled = await pullToLayout("lax/app:v1");
    assert.equal(pulled.code, 0, pulled.stderr);
    const res = await fetch(`${berth.url}/v2/lax/app/manifests/v1`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    assert.equal(res.headers.get("berth-signature"), "unsigned");
  });

  it("a signature pushed after a refused pull lets the next pull through", async () => {
    const image = await writeImageLayout(join(root, "later"), { ref: "v1", layers: [{ files: { "later.txt": "signed later\n" } }] });
    await copy(`oci:${image.dir}:v1`, ref("prod/later:v1"), ["--preserve-digests"]);
    assert.notEqual((await pullToLayout("prod/later:v1")).code, 0);
    await copy(`oci:${image.dir}:v1`, ref("stage/later:v1"), ["--preserve-digests"]);
    await stageSignature("stage/later", image.manifestDigest, keys);
    await copy(ref("stage/later:v1"), ref("prod/later:v1"));
    const pulled = await pullToLayout("prod/later:v1");
    assert.equal(pulled.code, 0, pulled.stderr);
  });

  it("an index signed at the index level: skopeo --override-arch and podman --arch pull a platform by digest", async () => {
    await copy(`oci:${multi.dir}:v1`, ref("stage/multi:v1"), ["--all", "--preserve-digests"]);
    await copy(`oci:${multi.dir}:v1`, ref("prod/unsigned-multi:v1"), ["--all", "--preserve-digests"]);
    await stageSignature("stage/multi", multi.indexDigest, keys);
    await copy(ref("stage/multi:v1"), ref("prod/multi:v1"), ["--all"]);
    const arm = await pullToLayout("prod/multi:v1", ["--override-arch", "arm64"]);
    assert.equal(arm.code, 0, arm.stderr);
    const podmanPull = await podman(["pull", "--tls-verify=false", "--arch", "arm64", `${berth.host}/prod/multi:v1`]);
    assert.equal(podmanPull.code, 0, podmanPull.stderr);
    const refused = await pullToLayout("prod/unsigned-multi:v1", ["--override-arch", "arm64"]);
    assert.notEqual(refused.code, 0);
    const child = multi.manifestDigests[1]!;
    const byDigest = await fetch(`${berth.url}/v2/prod/multi/manifests/${child}`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    assert.equal(byDigest.status, 200);
    assert.equal((await fetch(`${berth.url}/v2/prod/unsigned-multi/manifests/${child}`, { method: "HEAD" })).status, 403);
  });
});
