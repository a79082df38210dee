import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { Digest } from "../../src/oci/digest.js";
import { isSignatureArtifact, loadTrustMaterial, verifySignatures, type SignatureArtifact } from "../../src/supply/signatures/verify.js";
import { blobFetcher, createTestPki, digestOf, notationSignature, type TestCert } from "../helpers/signatures.js";
import { skipUnlessTools } from "../helpers/tools.js";

const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/signatures/notation/", import.meta.url));
/** The manifest the notation-go sample envelopes sign. */
const SAMPLE_SUBJECT = "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda" as Digest;
const SUBJECT = digestOf(Buffer.from("image manifest"));

/** A notation referrer manifest around a stored envelope file. */
async function sample(file: string, mediaType = "application/jose+json"): Promise<{ artifact: SignatureArtifact; blobs: Map<string, Buffer> }> {
  const envelope = await readFile(join(FIXTURES, file));
  const content = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.cncf.notary.signature", digest: digestOf(Buffer.from("{}")), size: 2 },
    layers: [{ mediaType, digest: digestOf(envelope), size: envelope.length }],
    subject: { mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: SAMPLE_SUBJECT, size: 528 },
  }));
  return { artifact: { digest: digestOf(content), mediaType: "application/vnd.oci.image.manifest.v1+json", content, via: "referrer" }, blobs: new Map([[digestOf(envelope), envelope]]) };
}

describe("notation signatures made by Notation 1.0.0 (notation-go test data)", () => {
  const trust = () => loadTrustMaterial({ notationCertificates: [join(FIXTURES, "alpine-leaf.pem"), join(FIXTURES, "testtsa-leaf-expired.pem")] });

  test("a PS256 envelope whose certificate is trusted verifies, signer = certificate subject", async () => {
    const { artifact, blobs } = await sample("jws-with-timestamp.sig");
    assert.equal(isSignatureArtifact(artifact.mediaType, artifact.content), true);
    const result = await verifySignatures(SAMPLE_SUBJECT, [artifact], await trust(), blobFetcher(blobs));
    assert.deepEqual(result, { verified: true, checks: [{ artifact: artifact.digest, format: "notation", valid: true, signer: "C=US, ST=WA, L=Seattle, O=Notary, CN=alpine" }] });
  });

  test("an envelope signed with a certificate that has expired is refused", async () => {
    const { artifact, blobs } = await sample("jws-expired-with-timestamp.sig");
    const result = await verifySignatures(SAMPLE_SUBJECT, [artifact], await trust(), blobFetcher(blobs));
    assert.equal(result.verified, false);
    assert.equal(result.checks[0]!.reason, 'certificate "C=US, ST=WA, L=Seattle, O=Notary, CN=testTSA" expired on 2024-06-18T07:30:31.000Z');
  });

  test("the same envelope without its certificate in the trust store is refused as untrusted", async () => {
    const { artifact, blobs } = await sample("jws-with-timestamp.sig");
    const other = await loadTrustMaterial({ notationCertificates: [join(FIXTURES, "testtsa-leaf-expired.pem")] });
    const result = await verifySignatures(SAMPLE_SUBJECT, [artifact], other, blobFetcher(blobs));
    assert.match(result.checks[0]!.reason!, /does not lead to a configured notation certificate/);
  });

  test("it does not vouch for another digest", async () => {
    const { artifact, blobs } = await sample("jws-with-timestamp.sig");
    const content = Buffer.from(artifact.content.toString().replace(SAMPLE_SUBJECT, SUBJECT));
    const result = await verifySignatures(SUBJECT, [{ ...artifact, content }], await trust(), blobFetcher(blobs));
    assert.equal(result.checks[0]!.reason, `signature is for ${SAMPLE_SUBJECT}, not ${SUBJECT}`);
  });

  test("a tampered payload is refused", async () => {
    const { artifact, blobs } = await sample("jws-with-timestamp.sig");
    const [digest, envelope] = [...blobs][0]!;
    const jws = JSON.parse(envelope.toString()) as { payload: string };
    jws.payload = Buffer.from(Buffer.from(jws.payload, "base64url").toString().replace('"size":528', '"size":529')).toString("base64url");
    const tampered = Buffer.from(JSON.stringify(jws));
    const content = Buffer.from(artifact.content.toString().replace(digest, digestOf(tampered)).replace(`"size":${envelope.length}`, `"size":${tampered.length}`));
    const result = await verifySignatures(SAMPLE_SUBJECT, [{ ...artifact, content }], await trust(), blobFetcher(new Map([[digestOf(tampered), tampered]])));
    assert.match(result.checks[0]!.reason!, /JWS signature does not verify/);
  });

  test("COSE envelopes are reported unsupported", async () => {
    const { artifact, blobs } = await sample("jws-with-timestamp.sig", "application/cose");
    const result = await verifySignatures(SAMPLE_SUBJECT, [artifact], await trust(), blobFetcher(blobs));
    assert.deepEqual(result.checks[0], { artifact: artifact.digest, format: "notation", valid: false, reason: "COSE envelopes are not supported" });
  });
});

describe("notation signatures over a CA chain (openssl PKI)", { skip: skipUnlessTools("openssl") }, () => {
  let dir: string;
  let root: TestCert;
  let leaf: TestCert;
  let serverLeaf: TestCert;
  let strangerLeaf: TestCert;
  let strangerRoot: TestCert;
  const trust = () => loadTrustMaterial({ notationCertificates: [root.path] });
  const verify = async (sig: { artifact: SignatureArtifact; blobs: Map<string, Buffer> }, now?: Date) =>
    verifySignatures(SUBJECT, [sig.artifact], await trust(), blobFetcher(sig.blobs), now);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-notation-"));
    const pki = await createTestPki(join(dir, "ca"));
    root = pki.root;
    leaf = await pki.issue("release-signer");
    serverLeaf = await pki.issue("web-server", { extensions: "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n" });
    const stranger = await createTestPki(join(dir, "stranger"));
    strangerRoot = stranger.root;
    strangerLeaf = await stranger.issue("impostor");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("ES256 by a leaf the configured root issued verifies, with or without the root in x5c", async () => {
    for (const chain of [[leaf, root], [leaf]]) {
      const result = await verify(await notationSignature({ subject: SUBJECT, leaf, chain }));
      assert.equal(result.verified, true, result.checks[0]!.reason);
      assert.equal(result.checks[0]!.signer, "O=Berth Test, CN=release-signer");
    }
  });

  test("a chain to an unconfigured root is refused as untrusted", async () => {
    const result = await verify(await notationSignature({ subject: SUBJECT, leaf: strangerLeaf, chain: [strangerLeaf, strangerRoot] }));
    assert.match(result.checks[0]!.reason!, /CN=impostor" does not lead to a configured notation certificate/);
  });

  test("a forged chain (stranger leaf claiming the trusted root in x5c) is refused", async () => {
    const result = await verify(await notationSignature({ subject: SUBJECT, leaf: strangerLeaf, chain: [strangerLeaf, root] }));
    assert.equal(result.checks[0]!.reason, "x5c certificate 1 is not issued by certificate 2");
  });

  test("an io.cncf.notary.expiry in the past is refused; in the future is accepted", async () => {
    const past = await verify(await notationSignature({ subject: SUBJECT, leaf, chain: [leaf, root], expiry: new Date(Date.now() - 60_000) }));
    assert.match(past.checks[0]!.reason!, /^signature expired at /);
    const future = await verify(await notationSignature({ subject: SUBJECT, leaf, chain: [leaf, root], expiry: new Date(Date.now() + 3_600_000) }));
    assert.equal(future.verified, true);
  });

  test("after the leaf certificate's notAfter the signature is refused as expired", async () => {
    const sig = await notationSignature({ subject: SUBJECT, leaf, chain: [leaf, root] });
    const result = await verify(sig, new Date(Date.parse(leaf.certificate.validTo) + 1000));
    assert.match(result.checks[0]!.reason!, /certificate "O=Berth Test, CN=release-signer" expired on/);
  });

  test("a leaf without the codeSigning extended key usage is refused", async () => {
    const result = await verify(await notationSignature({ subject: SUBJECT, leaf: serverLeaf, chain: [serverLeaf, root] }));
    assert.equal(result.checks[0]!.reason, "signing certificate lacks the codeSigning extended key usage");
  });

  test("a signature for another digest, a tampered signature, a foreign critical header are refused", async () => {
    const other = await verify(await notationSignature({ subject: digestOf(Buffer.from("other")), leaf, chain: [leaf, root] }));
    assert.match(other.checks[0]!.reason!, /^artifact's subject is sha256:/);
    const flipped = await verify(await notationSignature({ subject: SUBJECT, leaf, chain: [leaf, root], edit: (e) => (e.signature = `${e.signature.startsWith("A") ? "B" : "A"}${e.signature.slice(1)}`) }));
    assert.match(flipped.checks[0]!.reason!, /JWS signature does not verify/);
    const plugin = await verify(await notationSignature({
      subject: SUBJECT, leaf, chain: [leaf, root],
      edit: (e) => {
        const h = JSON.parse(Buffer.from(e.protected, "base64url").toString());
        h.crit.push("io.cncf.notary.verificationPlugin");
        h["io.cncf.notary.verificationPlugin"] = "com.example.plugin";
        e.protected = Buffer.from(JSON.stringify(h)).toString("base64url");
      },
    }));
    assert.match(plugin.checks[0]!.reason!, /io\.cncf\.notary\.verificationPlugin is not supported/);
  });

  test("the envelope bytes must match the layer digest", async () => {
    const sig = await notationSignature({ subject: SUBJECT, leaf, chain: [leaf, root] });
    const [digest] = [...sig.blobs.keys()].filter((d) => sig.blobs.get(d)!.length > 2);
    sig.blobs.set(digest!, Buffer.from(createHash("sha256").update("x").digest("hex")));
    const result = await verify(sig);
    assert.equal(result.checks[0]!.reason, `layer ${digest} does not match its content`);
  });
});
