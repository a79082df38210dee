import assert from "node:assert/strict";
import { generateKeyPairSync, scryptSync, type KeyObject } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import nacl from "tweetnacl";
import { isSignatureArtifact, loadTrustMaterial, trustFingerprint, verifySignatures } from "../../src/supply/signatures/verify.js";
import { createCosignKeyPair } from "../helpers/cosign-keys.js";
import { blobFetcher, cosignSign, cosignSignatureManifest, digestOf, simpleSigningPayload } from "../helpers/signatures.js";

const SUBJECT = digestOf(Buffer.from("the image manifest"));
const OTHER = digestOf(Buffer.from("another image manifest"));

describe("cosign simple signing", () => {
  let dir: string;
  const keyFiles: Record<string, { path: string; privateKey: KeyObject }> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-cosign-"));
    const kinds: [string, () => { privateKey: KeyObject; publicKey: KeyObject }][] = [
      ["p256", () => generateKeyPairSync("ec", { namedCurve: "P-256" })],
      ["p384", () => generateKeyPairSync("ec", { namedCurve: "P-384" })],
      ["ed25519", () => generateKeyPairSync("ed25519")],
      ["rsa", () => generateKeyPairSync("rsa", { modulusLength: 2048 })],
      ["stranger", () => generateKeyPairSync("ec", { namedCurve: "P-256" })],
    ];
    for (const [name, make] of kinds) {
      const { privateKey, publicKey } = make();
      const path = join(dir, `${name}.pub`);
      await writeFile(path, publicKey.export({ type: "spki", format: "pem" }));
      keyFiles[name] = { path, privateKey };
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const signed = (key: string, payload = simpleSigningPayload(SUBJECT)) =>
    cosignSignatureManifest([{ payload, signature: cosignSign(keyFiles[key]!.privateKey, payload) }]);
  const trustOf = (...keys: string[]) => loadTrustMaterial({ cosignKeys: keys.map((k) => keyFiles[k]!.path) });

  for (const kind of ["p256", "p384", "ed25519", "rsa"]) {
    test(`a ${kind} signature over a payload naming the subject is valid, signer = key file`, async () => {
      const sig = signed(kind);
      const result = await verifySignatures(SUBJECT, [sig.artifact], await trustOf("stranger", kind), blobFetcher(sig.blobs));
      assert.deepEqual(result, { verified: true, checks: [{ artifact: sig.artifact.digest, format: "cosign", valid: true, signer: keyFiles[kind]!.path }] });
    });
  }

  test("a signature by a key that is not configured is refused", async () => {
    const sig = signed("stranger");
    const result = await verifySignatures(SUBJECT, [sig.artifact], await trustOf("p256"), blobFetcher(sig.blobs));
    assert.equal(result.verified, false);
    assert.equal(result.checks[0]!.reason, "signature does not verify under any configured cosign key (1 tried)");
  });

  test("a tampered payload is refused even though its layer digest matches the new bytes", async () => {
    const original = simpleSigningPayload(SUBJECT);
    const signature = cosignSign(keyFiles.p256!.privateKey, original);
    const tampered = Buffer.from(original.toString().replace("127.0.0.1/test/app", "evil.example/app"));
    const sig = cosignSignatureManifest([{ payload: tampered, signature }]);
    const result = await verifySignatures(SUBJECT, [sig.artifact], await trustOf("p256"), blobFetcher(sig.blobs));
    assert.equal(result.verified, false);
    assert.match(result.checks[0]!.reason!, /does not verify/);
  });

  test("a layer whose blob does not hash to its digest is refused", async () => {
    const sig = signed("p256");
    const [digest] = [...sig.blobs.keys()].filter((d) => sig.blobs.get(d)!.length > 2);
    sig.blobs.set(digest!, Buffer.from("swapped"));
    const result = await verifySignatures(SUBJECT, [sig.artifact], await trustOf("p256"), blobFetcher(sig.blobs));
    assert.equal(result.checks[0]!.reason, `layer ${digest} does not match its content`);
  });

  test("a valid signature for another digest is refused, naming both digests", async () => {
    const sig = signed("p256", simpleSigningPayload(OTHER));
    const result = await verifySignatures(SUBJECT, [sig.artifact], await trustOf("p256"), blobFetcher(sig.blobs));
    assert.equal(result.verified, false);
    assert.equal(result.checks[0]!.reason, `signature is for ${OTHER}, not ${SUBJECT}`);
  });

  test("one valid layer among refused ones verifies; each layer is its own check", async () => {
    const good = simpleSigningPayload(SUBJECT);
    const sig = cosignSignatureManifest([
      { payload: simpleSigningPayload(OTHER), signature: cosignSign(keyFiles.p256!.privateKey, simpleSigningPayload(OTHER)) },
      { payload: good, signature: cosignSign(keyFiles.p256!.privateKey, good) },
    ]);
    const result = await verifySignatures(SUBJECT, [sig.artifact], await trustOf("p256"), blobFetcher(sig.blobs));
    assert.equal(result.verified, true);
    assert.deepEqual(result.checks.map((c) => c.valid), [false, true]);
  });

  test("keyless signatures (certificate annotation) are reported unsupported", async () => {
    const payload = simpleSigningPayload(SUBJECT);
    const sig = cosignSignatureManifest([{ payload, signature: cosignSign(keyFiles.stranger!.privateKey, payload), certificate: "-----BEGIN CERTIFICATE-----" }]);
    const result = await verifySignatures(SUBJECT, [sig.artifact], await trustOf("p256"), blobFetcher(sig.blobs));
    assert.match(result.checks[0]!.reason!, /keyless cosign signatures are not supported/);
  });

  test("garbage never throws: bad base64, a missing blob, a non-JSON payload", async () => {
    const payload = Buffer.from("not json");
    const sig = cosignSignatureManifest([{ payload, signature: cosignSign(keyFiles.p256!.privateKey, payload) }, { payload: Buffer.from("x"), signature: Buffer.from("%%%") }]);
    sig.blobs.delete(digestOf(Buffer.from("x")));
    const result = await verifySignatures(SUBJECT, [sig.artifact], await trustOf("p256"), blobFetcher(sig.blobs));
    assert.equal(result.verified, false);
    assert.equal(result.checks[0]!.reason, "simple-signing payload is not JSON");
    assert.match(result.checks[1]!.reason!, /cannot read layer .*unknown/);
  });

  test("manifests that are not signatures are skipped, and recognised by isSignatureArtifact", async () => {
    const image = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: "application/vnd.oci.image.config.v1+json" }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" }] }));
    assert.equal(isSignatureArtifact("application/vnd.oci.image.manifest.v1+json", image), false);
    assert.equal(isSignatureArtifact("application/vnd.oci.image.manifest.v1+json", Buffer.from("{not json")), false);
    assert.equal(isSignatureArtifact("application/vnd.oci.image.manifest.v1+json", signed("p256").artifact.content), true);
    const result = await verifySignatures(SUBJECT, [{ digest: digestOf(image), mediaType: "x", content: image, via: "referrer" }], await trustOf("p256"), blobFetcher());
    assert.deepEqual(result, { verified: false, checks: [] });
  });
});

describe("trust material", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "berth-trust-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  test("a missing or unusable file is an error naming it", async () => {
    await assert.rejects(loadTrustMaterial({ cosignKeys: [join(dir, "nope.pub")] }), /cosignKeys file .*nope\.pub/);
    await writeFile(join(dir, "bad.pub"), "hello");
    await assert.rejects(loadTrustMaterial({ cosignKeys: [join(dir, "bad.pub")] }), /bad\.pub is not a PEM public key/);
    await assert.rejects(loadTrustMaterial({ notationCertificates: [join(dir, "bad.pub")] }), /bad\.pub holds no PEM certificate/);
    await assert.rejects(loadTrustMaterial({ sigstoreTrustedRoot: join(dir, "bad.pub") }), /bad\.pub is not a sigstore trusted_root\.json/);
  });

  test("the fingerprint is stable for the same files and changes with a key", async () => {
    const a = await createCosignKeyPair(join(dir, "a"));
    const b = await createCosignKeyPair(join(dir, "b"));
    const one = trustFingerprint(await loadTrustMaterial({ cosignKeys: [a.publicKeyPath, b.publicKeyPath] }));
    assert.equal(trustFingerprint(await loadTrustMaterial({ cosignKeys: [b.publicKeyPath, a.publicKeyPath] })), one);
    assert.notEqual(trustFingerprint(await loadTrustMaterial({ cosignKeys: [a.publicKeyPath] })), one);
    assert.match(one, /^sha256:[0-9a-f]{64}$/);
  });

  test("the helper's cosign.key decrypts with the passphrase to the key pair (cosign's scrypt + secretbox)", async () => {
    const pair = await createCosignKeyPair(join(dir, "c"));
    const pem = await readFile(pair.privateKeyPath, "utf8");
    assert.match(pem, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    const body = JSON.parse(Buffer.from(pem.split("\n").slice(1, -2).join(""), "base64").toString()) as Record<string, any>;
    assert.deepEqual([body.kdf.name, body.kdf.params, body.cipher.name], ["scrypt", { N: 32768, r: 8, p: 1 }, "nacl/secretbox"]);
    const key = scryptSync(await readFile(pair.passphrasePath, "utf8"), Buffer.from(body.kdf.salt, "base64"), 32, { N: 32768, r: 8, p: 1, maxmem: 64 << 20 });
    const der = nacl.secretbox.open(Buffer.from(body.ciphertext, "base64"), Buffer.from(body.cipher.nonce, "base64"), key);
    assert.ok(der);
    assert.deepEqual(Buffer.from(der), pair.privateKey.export({ type: "pkcs8", format: "der" }));
  });
});

