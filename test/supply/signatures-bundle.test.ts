import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isSignatureArtifact, loadTrustMaterial, verifySignatures, type TrustMaterial } from "../../src/supply/signatures/verify.js";
import { blobFetcher, digestOf, inTotoStatement, sigstoreBundle } from "../helpers/signatures.js";

const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", layers: [] }));
const SUBJECT = digestOf(MANIFEST);
const OTHER = digestOf(Buffer.from("another manifest"));

describe("sigstore bundles as referrers (made by @sigstore/sign with a local key)", () => {
  let dir: string;
  let signer: { privateKey: KeyObject; publicKey: KeyObject; path: string };
  let stranger: { privateKey: KeyObject; publicKey: KeyObject; path: string };
  let trust: TrustMaterial;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-bundle-"));
    const make = async (name: string) => {
      const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const path = join(dir, `${name}.pub`);
      await writeFile(path, pair.publicKey.export({ type: "spki", format: "pem" }));
      return { ...pair, path };
    };
    signer = await make("release");
    stranger = await make("stranger");
    trust = await loadTrustMaterial({ cosignKeys: [signer.path] });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a DSSE bundle whose in-toto statement names the subject verifies, signer = key file", async () => {
    const sig = await sigstoreBundle({ subject: SUBJECT, ...signer });
    assert.equal(sig.bundle.mediaType, "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert.equal(isSignatureArtifact(sig.artifact.mediaType, sig.artifact.content), true);
    const result = await verifySignatures(SUBJECT, [sig.artifact], trust, blobFetcher(sig.blobs));
    assert.deepEqual(result, { verified: true, checks: [{ artifact: sig.artifact.digest, format: "sigstore-bundle", valid: true, signer: signer.path }] });
  });

  test("a bundle by a key that is not configured is refused", async () => {
    const sig = await sigstoreBundle({ subject: SUBJECT, ...stranger });
    const result = await verifySignatures(SUBJECT, [sig.artifact], trust, blobFetcher(sig.blobs));
    assert.equal(result.checks[0]!.reason, "bundle signature does not verify under any configured cosign key (1 tried)");
  });

  test("a tampered statement is refused", async () => {
    const sig = await sigstoreBundle({
      subject: SUBJECT, ...signer,
      edit: (b) => (b.dsseEnvelope.payload = inTotoStatement(OTHER).toString("base64")),
    });
    const result = await verifySignatures(SUBJECT, [sig.artifact], trust, blobFetcher(sig.blobs));
    assert.equal(result.verified, false);
    assert.match(result.checks[0]!.reason!, /does not verify/);
  });

  test("a valid bundle whose statement names another digest is refused", async () => {
    const sig = await sigstoreBundle({ subject: SUBJECT, ...signer, statement: inTotoStatement(OTHER) });
    const result = await verifySignatures(SUBJECT, [sig.artifact], trust, blobFetcher(sig.blobs));
    assert.equal(result.checks[0]!.reason, `statement is for ${OTHER}, not ${SUBJECT}`);
  });

  test("a message-signature bundle verifies over the subject's bytes, and is refused without them", async () => {
    const sig = await sigstoreBundle({ subject: SUBJECT, ...signer, kind: "message", subjectContent: MANIFEST });
    const withBytes = await verifySignatures(SUBJECT, [sig.artifact], trust, blobFetcher(sig.blobs), new Date(), { subjectContent: MANIFEST });
    assert.equal(withBytes.verified, true, withBytes.checks[0]!.reason);
    const without = await verifySignatures(SUBJECT, [sig.artifact], trust, blobFetcher(sig.blobs));
    assert.match(without.checks[0]!.reason!, /subject manifest's bytes were not supplied/);
  });

  test("older bundle media types are recognised; malformed bundle JSON is refused, not thrown", async () => {
    const legacy = await sigstoreBundle({ subject: SUBJECT, ...signer, mediaType: "application/vnd.dev.sigstore.bundle+json;version=0.2" });
    assert.equal(isSignatureArtifact(legacy.artifact.mediaType, legacy.artifact.content), true);
    assert.equal((await verifySignatures(SUBJECT, [legacy.artifact], trust, blobFetcher(legacy.blobs))).verified, true);
    const broken = await sigstoreBundle({ subject: SUBJECT, ...signer, edit: (b) => delete b.verificationMaterial });
    const result = await verifySignatures(SUBJECT, [broken.artifact], trust, blobFetcher(broken.blobs));
    assert.match(result.checks[0]!.reason!, /^not a valid sigstore bundle/);
  });

  test("a keyless bundle (signing certificate) is reported unsupported", async () => {
    const sig = await sigstoreBundle({
      subject: SUBJECT, ...signer,
      edit: (b) => (b.verificationMaterial = { certificate: { rawBytes: Buffer.from("not really a certificate").toString("base64") }, tlogEntries: [] }),
    });
    const result = await verifySignatures(SUBJECT, [sig.artifact], trust, blobFetcher(sig.blobs));
    assert.match(result.checks[0]!.reason!, /keyless sigstore bundles are not supported/);
  });

  test("several bundles combine: verified when any one is valid, one check each", async () => {
    const bad = await sigstoreBundle({ subject: SUBJECT, ...stranger });
    const good = await sigstoreBundle({ subject: SUBJECT, ...signer });
    const result = await verifySignatures(SUBJECT, [bad.artifact, good.artifact], trust, blobFetcher(bad.blobs, good.blobs));
    assert.equal(result.verified, true);
    assert.deepEqual(result.checks.map((c) => c.valid), [false, true]);
  });
});
