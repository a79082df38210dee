import { X509Certificate, createHash, createPrivateKey, sign, type KeyObject } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FlattenedSign } from "jose";
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, type Signer } from "@sigstore/sign";
import type { Digest } from "../../src/oci/digest.js";
import type { FetchBlob, SignatureArtifact } from "../../src/supply/signatures/verify.js";
import { run } from "./tools.js";

/** A signature manifest and the blobs it references, as a registry would hold them. */
export interface SignedArtifact {
  artifact: SignatureArtifact;
  blobs: Map<string, Buffer>;
}

export function digestOf(data: Buffer): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}` as Digest;
}

/** A FetchBlob over blob maps, rejecting unknown digests and blobs over maxBytes, like the registry's. */
export function blobFetcher(...stores: Map<string, Buffer>[]): FetchBlob {
  return async (digest, maxBytes) => {
    const blob = stores.map((s) => s.get(digest)).find((b) => b !== undefined);
    if (!blob) throw new Error(`blob ${digest} unknown`);
    if (blob.length > maxBytes) throw new Error(`blob ${digest} is over ${maxBytes} bytes`);
    return blob;
  };
}

const EMPTY = Buffer.from("{}");

function artifactOf(manifest: object, via: "tag" | "referrer", blobs: Map<string, Buffer>): SignedArtifact {
  const content = Buffer.from(JSON.stringify(manifest));
  return { artifact: { digest: digestOf(content), mediaType: "application/vnd.oci.image.manifest.v1+json", content, via }, blobs };
}

/** The simple-signing payload cosign signs for `subject`. */
export function simpleSigningPayload(subject: string, reference = "127.0.0.1/test/app"): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { "docker-reference": reference }, image: { "docker-manifest-digest": subject }, type: "cosign container image signature" },
      optional: null,
    }),
  );
}

/** Signs data the way cosign does for a key of that type (DER ECDSA with SHA-256, Ed25519, RSA PKCS#1 v1.5). */
export function cosignSign(privateKey: KeyObject, data: Buffer): Buffer {
  if (privateKey.asymmetricKeyType === "ed25519") return sign(null, data, privateKey);
  return sign("sha256", data, { key: privateKey, dsaEncoding: "der" });
}

/** A cosign `.sig` manifest with one simple-signing layer per payload (signature annotation as given). */
export function cosignSignatureManifest(layers: { payload: Buffer; signature: Buffer; certificate?: string }[]): SignedArtifact {
  const blobs = new Map<string, Buffer>([[digestOf(EMPTY), EMPTY]]);
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(EMPTY), size: EMPTY.length },
    layers: layers.map((l) => {
      blobs.set(digestOf(l.payload), l.payload);
      const annotations: Record<string, string> = { "dev.cosignproject.cosign/signature": l.signature.toString("base64") };
      if (l.certificate) annotations["dev.sigstore.cosign/certificate"] = l.certificate;
      return { mediaType: "application/vnd.dev.cosign.simplesigning.v1+json", digest: digestOf(l.payload), size: l.payload.length, annotations };
    }),
  };
  return artifactOf(manifest, "tag", blobs);
}

function keySigner(privateKey: KeyObject, publicKey: KeyObject): Signer {
  return {
    async sign(data: Buffer) {
      return { signature: cosignSign(privateKey, data), key: { $case: "publicKey", publicKey: publicKey.export({ type: "spki", format: "pem" }).toString() } };
    },
  };
}

/** An in-toto statement naming `subject`, as cosign's bundle signatures carry. */
export function inTotoStatement(subject: string): Buffer {
  const [algorithm, hex] = subject.split(":") as [string, string];
  return Buffer.from(
    JSON.stringify({
      _type: "https://in-toto.io/Statement/v1",
      subject: [{ name: "127.0.0.1/test/app", digest: { [algorithm]: hex } }],
      predicateType: "https://sigstore.dev/cosign/sign/v1",
      predicate: {},
    }),
  );
}

/** A key-based sigstore bundle made by @sigstore/sign (no Fulcio, no Rekor), and its referrer manifest. */
export async function sigstoreBundle(opts: {
  subject: Digest;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** dsse (default) signs an in-toto statement naming subject; message signs `subjectContent` itself. */
  kind?: "dsse" | "message";
  subjectContent?: Buffer;
  statement?: Buffer;
  /** Mutates the bundle JSON before it is stored (tampering). */
  edit?: (bundle: Record<string, any>) => void;
  mediaType?: string;
}): Promise<SignedArtifact & { bundle: Record<string, any> }> {
  const signer = keySigner(opts.privateKey, opts.publicKey);
  const bundle =
    opts.kind === "message"
      ? await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data: opts.subjectContent! })
      : await new DSSEBundleBuilder({ signer, witnesses: [] }).create({ data: opts.statement ?? inTotoStatement(opts.subject), type: "application/vnd.in-toto+json" });
  const { bundleToJSON } = await import("@sigstore/bundle");
  const json = bundleToJSON(bundle) as Record<string, any>;
  opts.edit?.(json);
  const blob = Buffer.from(JSON.stringify(json));
  const mediaType = opts.mediaType ?? "application/vnd.dev.sigstore.bundle.v0.3+json";
  const blobs = new Map<string, Buffer>([[digestOf(blob), blob], [digestOf(EMPTY), EMPTY]]);
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    artifactType: mediaType,
    config: { mediaType: "application/vnd.oci.empty.v1+json", digest: digestOf(EMPTY), size: EMPTY.length },
    layers: [{ mediaType, digest: digestOf(blob), size: blob.length }],
    subject: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: opts.subject, size: 100 },
  };
  return { ...artifactOf(manifest, "referrer", blobs), bundle: json };
}

/** One certificate of a test PKI: PEM and private key. */
export interface TestCert {
  pem: string;
  path: string;
  key: KeyObject;
  certificate: X509Certificate;
}

/** Makes certificates with openssl: a root (CA) and leaves it issues, with the extensions asked for. */
export async function createTestPki(dir: string): Promise<{
  root: TestCert;
  issue(name: string, opts?: { days?: number; extensions?: string; curve?: string }): Promise<TestCert>;
}> {
  await mkdir(dir, { recursive: true });
  const load = async (name: string): Promise<TestCert> => {
    const path = join(dir, `${name}.pem`);
    const pem = await readFile(path, "utf8");
    return { pem, path, key: createPrivateKey(await readFile(join(dir, `${name}.key`))), certificate: new X509Certificate(pem) };
  };
  const rootName = "root";
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", join(dir, `${rootName}.key`), "-out", join(dir, `${rootName}.pem`), "-days", "3650", "-subj", `/O=Berth Test/CN=${dir.split("/").pop()} root`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const root = await load(rootName);
  return {
    root,
    async issue(name, opts = {}) {
      const ext = join(dir, `${name}.ext`);
      await writeFile(ext, opts.extensions ?? "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n");
      await run("openssl", [
        "req", "-newkey", "ec", "-pkeyopt", `ec_paramgen_curve:${opts.curve ?? "P-256"}`, "-nodes",
        "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.csr`), "-subj", `/O=Berth Test/CN=${name}`,
      ]);
      await run("openssl", [
        "x509", "-req", "-in", join(dir, `${name}.csr`), "-CA", root.path, "-CAkey", join(dir, `${rootName}.key`), "-CAcreateserial",
        "-out", join(dir, `${name}.pem`), "-days", String(opts.days ?? 365), "-extfile", ext,
      ]);
      return load(name);
    },
  };
}

/** A notation JWS signature (notary.x509 scheme) of `subject` by `leaf`, with `chain` in x5c, and its referrer manifest. */
export async function notationSignature(opts: {
  subject: Digest;
  leaf: TestCert;
  chain: TestCert[];
  alg?: string;
  signingTime?: Date;
  expiry?: Date;
  /** Mutates the finished envelope (tampering). */
  edit?: (envelope: Record<string, any>) => void;
  envelopeMediaType?: string;
}): Promise<SignedArtifact> {
  const payload = Buffer.from(JSON.stringify({ targetArtifact: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: opts.subject, size: 100 } }));
  const crit = ["io.cncf.notary.signingScheme", ...(opts.expiry ? ["io.cncf.notary.expiry"] : [])];
  const header: Record<string, unknown> = {
    alg: opts.alg ?? "ES256",
    cty: "application/vnd.cncf.notary.payload.v1+json",
    crit,
    "io.cncf.notary.signingScheme": "notary.x509",
    "io.cncf.notary.signingTime": (opts.signingTime ?? new Date()).toISOString(),
  };
  if (opts.expiry) header["io.cncf.notary.expiry"] = opts.expiry.toISOString();
  const jws = await new FlattenedSign(payload)
    .setProtectedHeader(header as never)
    .setUnprotectedHeader({ x5c: opts.chain.map((c) => c.certificate.raw.toString("base64")), "io.cncf.notary.signingAgent": "berth-test" })
    .sign(opts.leaf.key, { crit: Object.fromEntries(crit.map((c) => [c, true])) });
  const envelope = jws as unknown as Record<string, any>;
  opts.edit?.(envelope);
  const blob = Buffer.from(JSON.stringify(envelope));
  const blobs = new Map<string, Buffer>([[digestOf(blob), blob], [digestOf(EMPTY), EMPTY]]);
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    artifactType: "application/vnd.cncf.notary.signature",
    config: { mediaType: "application/vnd.oci.empty.v1+json", digest: digestOf(EMPTY), size: EMPTY.length },
    layers: [{ mediaType: opts.envelopeMediaType ?? "application/jose+json", digest: digestOf(blob), size: blob.length }],
    subject: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: opts.subject, size: 100 },
  };
  return artifactOf(manifest, "referrer", blobs);
}
