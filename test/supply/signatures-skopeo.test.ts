import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Digest } from "../../src/oci/digest.js";
import { isSignatureArtifact, loadTrustMaterial, verifySignatures, type SignatureArtifact } from "../../src/supply/signatures/verify.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { createCosignKeyPair, type CosignKeyPair } from "../helpers/cosign-keys.js";
import { writeImageLayout } from "../helpers/oci-layout.js";
import { pushBlob, pushManifest } from "../helpers/push.js";
import { cosignSign, cosignSignatureManifest, simpleSigningPayload } from "../helpers/signatures.js";
import { run, skipUnlessTools } from "../helpers/tools.js";

/*
 * Debian's skopeo 1.9 and podman 4.3 are built with sigstore signing AND verification disabled ("Debian-local
 * change: sigstore disabled"), so the signature is made by the test helpers in cosign's format, and skopeo is the
 * real client that carries it: a copy with sigstore attachments on reads the `.sig` manifest from Berth, parses
 * it into its own signature objects and writes a `.sig` manifest of its own making at the destination, which
 * Berth's verifier must then accept.
 */

const ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

async function get(berth: TestBerth, path: string, accept?: string): Promise<{ body: Buffer; type: string; digest: string }> {
  const res = await fetch(`${berth.url}${path}`, accept ? { headers: { accept } } : {});
  assert.equal(res.status, 200, `GET ${path}`);
  return { body: Buffer.from(await res.arrayBuffer()), type: res.headers.get("content-type") ?? "", digest: res.headers.get("docker-content-digest") ?? "" };
}

describe("cosign simple signing checked by skopeo (real client)", { skip: skipUnlessTools("skopeo") }, () => {
  let berth: TestBerth;
  let dir: string;
  let keys: CosignKeyPair;
  let other: CosignKeyPair;
  let subject: Digest;
  let registriesD: string;
  const fetchBlob = (repo: string) => async (digest: Digest) => (await get(berth, `/v2/${repo}/blobs/${digest}`)).body;

  const copy = (to: string) =>
    run("skopeo", [
      "--registries.d", registriesD, "--insecure-policy",
      "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
      `docker://${berth.host}/signed/app:v1`, `docker://${berth.host}/${to}:v1`,
    ]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-sigverify-"));
    keys = await createCosignKeyPair(join(dir, "keys"));
    other = await createCosignKeyPair(join(dir, "other-keys"));
    berth = await startBerth();
    registriesD = join(dir, "registries.d");
    await mkdir(registriesD, { recursive: true });
    await writeFile(join(registriesD, "berth.yaml"), `docker:\n  ${berth.host}:\n    use-sigstore-attachments: true\n`);
    const layout = await writeImageLayout(join(dir, "layout"), { layers: [{ files: { "app.txt": "signed app\n" } }] });
    await run("skopeo", ["--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false", `oci:${layout.dir}:${layout.ref}`, `docker://${berth.host}/signed/app:v1`]);
    subject = layout.manifestDigest as Digest;
    const payload = simpleSigningPayload(subject, `${berth.host}/signed/app:v1`);
    const sig = cosignSignatureManifest([{ payload, signature: cosignSign(keys.privateKey, payload) }]);
    for (const blob of sig.blobs.values()) await pushBlob(berth.url, "signed/app", blob);
    await pushManifest(berth.url, "signed/app", `${subject.replace(":", "-")}.sig`, sig.artifact.content, sig.artifact.mediaType);
  });
  after(async () => {
    await berth?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("skopeo copies the signature as a sigstore attachment", async () => {
    await copy("copied/app");
    const res = await fetch(`${berth.url}/v2/copied/app/manifests/${subject.replace(":", "-")}.sig`, { method: "HEAD", headers: { accept: ACCEPT } });
    assert.equal(res.status, 200);
  });

  test("the .sig manifest skopeo wrote at the destination is recognised and verified, naming the key file", async () => {
    const sig = await get(berth, `/v2/copied/app/manifests/${subject.replace(":", "-")}.sig`, ACCEPT);
    const artifact: SignatureArtifact = { digest: sig.digest as Digest, mediaType: sig.type, content: sig.body, via: "tag" };
    assert.equal(isSignatureArtifact(artifact.mediaType, artifact.content), true);
    const trust = await loadTrustMaterial({ cosignKeys: [other.publicKeyPath, keys.publicKeyPath] });
    const result = await verifySignatures(subject, [artifact], trust, fetchBlob("copied/app"));
    assert.deepEqual(result, { verified: true, checks: [{ artifact: artifact.digest, format: "cosign", valid: true, signer: keys.publicKeyPath }] });
    const wrong = await verifySignatures(subject, [artifact], await loadTrustMaterial({ cosignKeys: [other.publicKeyPath] }), fetchBlob("copied/app"));
    assert.equal(wrong.verified, false);
  });
});
