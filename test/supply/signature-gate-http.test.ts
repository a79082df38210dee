import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Digest } from "../../src/oci/digest.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { createCosignKeyPair, type CosignKeyPair } from "../helpers/cosign-keys.js";
import { makeImage, makeIndex, makeLayer, MediaTypes, sha256 } from "../helpers/fixtures.js";
import { clientOf, pushBlob, pushImage, pushManifest } from "../helpers/push.js";
import {
  cosignSign,
  cosignSignatureManifest,
  createTestPki,
  notationSignature,
  sigstoreBundle,
  simpleSigningPayload,
  type SignedArtifact,
  type TestCert,
} from "../helpers/signatures.js";

const ACCEPT = [MediaTypes.ociManifest, MediaTypes.ociIndex, MediaTypes.dockerManifest, MediaTypes.dockerManifestList].join(", ");

describe("signature policies on manifest pulls (HTTP)", () => {
  let dir: string;
  let berth: TestBerth;
  let keys: CosignKeyPair;
  let other: CosignKeyPair;
  let pki: { root: TestCert; leaf: TestCert };

  const fresh = () => makeImage({ layers: [makeLayer({ id: randomUUID() })] });
  const push = async (repo: string, tag: string, image = fresh()) => {
    const client = clientOf(berth.url);
    try {
      return (await pushImage(client, repo, tag, image)) as Digest;
    } finally {
      client.close();
    }
  };
  const store = async (repo: string, ref: string, signed: SignedArtifact) => {
    for (const blob of signed.blobs.values()) await pushBlob(berth.url, repo, blob);
    return pushManifest(berth.url, repo, ref, signed.artifact.content, signed.artifact.mediaType);
  };
  const cosign = (subject: string, key = keys) => {
    const payload = simpleSigningPayload(subject, `${berth.host}/x`);
    return cosignSignatureManifest([{ payload, signature: cosignSign(key.privateKey, payload) }]);
  };
  const sigTag = (digest: string) => `${digest.replace(":", "-")}.sig`;
  const sign = (repo: string, digest: string, key = keys) => store(repo, sigTag(digest), cosign(digest, key));
  const pull = async (repo: string, ref: string, method = "GET") => {
    const res = await fetch(`${berth.url}/v2/${repo}/manifests/${ref}`, { method, headers: { accept: ACCEPT } });
    const text = method === "HEAD" ? "" : await res.text();
    const message = res.status === 403 && text !== "" ? (JSON.parse(text) as { errors: { code: string; message: string }[] }).errors[0] : undefined;
    return { status: res.status, signature: res.headers.get("berth-signature"), message: message?.message, code: message?.code };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-siggate-"));
    keys = await createCosignKeyPair(join(dir, "keys"));
    other = await createCosignKeyPair(join(dir, "other"));
    const made = await createTestPki(join(dir, "pki"));
    pki = { root: made.root, leaf: await made.issue("release") };
    const config = join(dir, "berth.yaml");
    await writeFile(
      config,
      JSON.stringify({
        signatures: {
          policies: [
            { repositories: ["prod/*"], mode: "enforce", cosignKeys: [keys.publicKeyPath], notationCertificates: [pki.root.path] },
            { name: "lax", repositories: ["lax/*"], mode: "report", cosignKeys: [keys.publicKeyPath] },
          ],
        },
      }),
    );
    berth = await startBerth({ BERTH_CONFIG: config });
  });
  after(async () => {
    await berth?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves an image signed by the trusted key, by tag and by digest, GET and HEAD", async () => {
    const digest = await push("prod/app", "v1");
    await sign("prod/app", digest);
    assert.deepEqual(await pull("prod/app", "v1"), { status: 200, signature: "verified", message: undefined, code: undefined });
    assert.equal((await pull("prod/app", digest, "HEAD")).status, 200);
    const status = await berth.berth.supply.signatures.status("prod/app", digest);
    assert.deepEqual(
      { policy: status.policy, mode: status.mode, gated: status.gated, verified: status.verified, state: status.state, signers: status.checks.map((c) => c.signer) },
      { policy: "signatures.policies[0]", mode: "enforce", gated: true, verified: true, state: "verified", signers: [keys.publicKeyPath] },
    );
  });

  it("refuses an unsigned image with 403 DENIED naming the policy, GET and HEAD", async () => {
    const digest = await push("prod/other", "v1");
    const refused = await pull("prod/other", "v1");
    assert.equal(refused.status, 403);
    assert.equal(refused.code, "DENIED");
    assert.equal(refused.signature, "unsigned");
    assert.match(refused.message!, /^signatures\.policies\[0\] \(prod\/\*\) requires a valid signature from a trusted key \(.*cosign\.pub.*\) for sha256:[0-9a-f]{64}: no signature found$/);
    assert.ok(refused.message!.includes(digest));
    assert.equal((await pull("prod/other", digest, "HEAD")).status, 403);
  });

  it("keeps signatures, their blobs and other referrers pullable under enforce", async () => {
    const digest = await push("prod/withsbom", "v1");
    const sig = cosign(digest);
    await store("prod/withsbom", sigTag(digest), sig);
    const empty = Buffer.from("{}");
    const sbom = Buffer.from(JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.5", components: [] }));
    await pushBlob(berth.url, "prod/withsbom", empty);
    await pushBlob(berth.url, "prod/withsbom", sbom);
    const referrer = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: "application/vnd.cyclonedx+json",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(empty), size: empty.length },
      layers: [{ mediaType: "application/vnd.cyclonedx+json", digest: sha256(sbom), size: sbom.length }],
      subject: { mediaType: MediaTypes.ociManifest, digest, size: 1 },
    }));
    const sbomDigest = await pushManifest(berth.url, "prod/withsbom", sha256(referrer), referrer, MediaTypes.ociManifest);
    const sigPull = await pull("prod/withsbom", sigTag(digest));
    assert.equal(sigPull.status, 200);
    assert.equal(sigPull.signature, null, "artifacts get no Berth-Signature header");
    assert.equal((await pull("prod/withsbom", sbomDigest)).status, 200);
    for (const blobDigest of sig.blobs.keys()) {
      assert.equal((await fetch(`${berth.url}/v2/prod/withsbom/blobs/${blobDigest}`)).status, 200);
    }
    assert.equal((await pull("prod/withsbom", "v1")).status, 200, "the SBOM referrer does not hide the signature");
  });

  it("refuses a signature made with another key, saying why", async () => {
    const digest = await push("prod/wrongkey", "v1");
    await sign("prod/wrongkey", digest, other);
    const refused = await pull("prod/wrongkey", "v1");
    assert.equal(refused.status, 403);
    assert.equal(refused.signature, "unverified");
    assert.match(refused.message!, /cosign signature sha256:[0-9a-f]{64} refused: signature does not verify/);
  });

  it("refuses a signature made for another digest, copied under this image's .sig tag", async () => {
    const signed = await push("prod/copied", "signed");
    const sig = cosign(signed);
    await store("prod/copied", sigTag(signed), sig);
    const target = await push("prod/copied", "target");
    await store("prod/copied", sigTag(target), sig);
    const refused = await pull("prod/copied", "target");
    assert.equal(refused.status, 403);
    assert.ok(refused.message!.includes(`signature is for ${signed}, not ${target}`), refused.message);
    assert.equal((await pull("prod/copied", "signed")).status, 200);
  });

  it("serves an unsigned image under report, with Berth-Signature: unsigned", async () => {
    await push("lax/app", "v1");
    assert.deepEqual(await pull("lax/app", "v1"), { status: 200, signature: "unsigned", message: undefined, code: undefined });
    const digest = await push("lax/app", "v2");
    await sign("lax/app", digest, other);
    assert.equal((await pull("lax/app", "v2")).signature, "unverified");
    await push("free/app", "v1");
    assert.equal((await pull("free/app", "v1")).signature, null, "no policy, no header");
  });

  it("serves an image signed after a refused pull (the cache recomputes on a new signature)", async () => {
    const digest = await push("prod/later", "v1");
    assert.equal((await pull("prod/later", "v1")).status, 403);
    await sign("prod/later", digest);
    assert.equal((await pull("prod/later", "v1")).status, 200);
  });

  it("refuses again once the signature is deleted", async () => {
    const digest = await push("prod/revoked", "v1");
    const sigDigest = await sign("prod/revoked", digest);
    assert.equal((await pull("prod/revoked", "v1")).status, 200);
    assert.equal((await pull("prod/revoked", "v1")).status, 200, "served again from the verified cache");
    const deleted = await fetch(`${berth.url}/v2/prod/revoked/manifests/${sigDigest}`, { method: "DELETE" });
    assert.equal(deleted.status, 202);
    const refused = await pull("prod/revoked", "v1");
    assert.equal(refused.status, 403);
    assert.equal(refused.signature, "unsigned");
  });

  it("serves a platform manifest by digest when the index listing it is signed", async () => {
    const amd = makeImage({ layers: [makeLayer({ id: randomUUID() })], platform: { architecture: "amd64" } });
    const arm = makeImage({ layers: [makeLayer({ id: randomUUID() })], platform: { architecture: "arm64" } });
    await push("prod/multi", amd.manifestDigest, amd);
    await push("prod/multi", arm.manifestDigest, arm);
    const descriptor = (i: typeof amd, architecture: string) => ({ mediaType: i.manifestMediaType, digest: i.manifestDigest, size: i.manifest.length, platform: { architecture, os: "linux" } });
    const index = makeIndex([descriptor(amd, "amd64"), descriptor(arm, "arm64")]);
    await pushManifest(berth.url, "prod/multi", "v1", index.index, index.mediaType);
    assert.equal((await pull("prod/multi", "v1")).status, 403);
    assert.equal((await pull("prod/multi", amd.manifestDigest)).status, 403);
    await sign("prod/multi", index.digest);
    assert.equal((await pull("prod/multi", "v1")).status, 200);
    assert.deepEqual(await pull("prod/multi", amd.manifestDigest), { status: 200, signature: "verified", message: undefined, code: undefined });
    assert.equal((await berth.berth.supply.signatures.status("prod/multi", amd.manifestDigest as Digest)).verifiedBy, index.digest);
    const lone = await push("prod/multi", "lone");
    assert.equal((await pull("prod/multi", lone)).status, 403, "an image no signed index lists stays refused");
  });

  it("accepts notation and sigstore bundle referrers, and refuses an expired notation certificate", async () => {
    const notarised = await push("prod/notation", "v1");
    await store("prod/notation", "notation", await notationSignature({ subject: notarised, leaf: pki.leaf, chain: [pki.leaf, pki.root] }));
    assert.equal((await pull("prod/notation", "v1")).signature, "verified");

    const bundled = await push("prod/bundle", "v1");
    const bundle = await sigstoreBundle({ subject: bundled, privateKey: keys.privateKey, publicKey: keys.publicKey });
    await store("prod/bundle", "bundle", bundle);
    assert.equal((await pull("prod/bundle", "v1")).signature, "verified");

    const expiredPki = await createTestPki(join(dir, "pki-expired"));
    const stale = await push("prod/notation", "v2");
    const leaf = await expiredPki.issue("stale");
    await store("prod/notation", "stale", await notationSignature({ subject: stale, leaf, chain: [leaf, expiredPki.root], expiry: new Date(Date.now() - 60_000) }));
    const refused = await pull("prod/notation", "v2");
    assert.equal(refused.status, 403);
    assert.match(refused.message!, /notation signature sha256:[0-9a-f]{64} refused: /);
  });
});
