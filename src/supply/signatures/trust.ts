import { X509Certificate, createHash, createPublicKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { TrustedRoot } from "@sigstore/protobuf-specs";
import { lazyRequire } from "../../lazy-require.js";
import type { TrustMaterial, TrustedIdentity } from "./types.js";

const protobufSpecs = lazyRequire<typeof import("@sigstore/protobuf-specs")>("@sigstore/protobuf-specs");

/** The file names of one policy's trust, as written in the configuration. */
export interface TrustFiles {
  cosignKeys?: string[];
  notationCertificates?: string[];
  sigstoreTrustedRoot?: string;
  identities?: TrustedIdentity[];
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

async function readText(setting: string, path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`signatures: cannot read ${setting} file ${path}: ${(err as Error).message}`);
  }
}

async function loadKey(path: string): Promise<{ name: string; key: KeyObject }> {
  const text = await readText("cosignKeys", path);
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch (err) {
    throw new Error(`signatures: cosignKeys file ${path} is not a PEM public key: ${(err as Error).message}`);
  }
  const type = key.asymmetricKeyType;
  if (type !== "ec" && type !== "rsa" && type !== "ed25519" && type !== "rsa-pss") {
    throw new Error(`signatures: cosignKeys file ${path} holds a ${type} key; ECDSA, RSA or Ed25519 keys are supported`);
  }
  return { name: path, key };
}

async function loadCertificates(path: string): Promise<{ name: string; certificate: X509Certificate }[]> {
  const text = await readText("notationCertificates", path);
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error(`signatures: notationCertificates file ${path} holds no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return { name: blocks.length === 1 ? path : `${path}#${i + 1}`, certificate: new X509Certificate(block) };
    } catch (err) {
      throw new Error(`signatures: notationCertificates file ${path}, certificate ${i + 1}: ${(err as Error).message}`);
    }
  });
}

async function loadTrustedRoot(path: string): Promise<unknown> {
  const text = await readText("sigstoreTrustedRoot", path);
  try {
    return protobufSpecs().TrustedRoot.fromJSON(JSON.parse(text));
  } catch (err) {
    throw new Error(`signatures: sigstoreTrustedRoot file ${path} is not a sigstore trusted_root.json: ${(err as Error).message}`);
  }
}

/** Reads the keys and certificates a policy names; an Error naming the file when one is missing or unusable. */
export async function loadTrustMaterial(cfg: TrustFiles): Promise<TrustMaterial> {
  const [cosignKeys, certificates, sigstoreTrustedRoot] = await Promise.all([
    Promise.all((cfg.cosignKeys ?? []).map(loadKey)),
    Promise.all((cfg.notationCertificates ?? []).map(loadCertificates)),
    cfg.sigstoreTrustedRoot === undefined ? undefined : loadTrustedRoot(cfg.sigstoreTrustedRoot),
  ]);
  return {
    cosignKeys,
    notationCertificates: certificates.flat(),
    ...(sigstoreTrustedRoot === undefined ? {} : { sigstoreTrustedRoot }),
    ...(cfg.identities === undefined ? {} : { identities: cfg.identities }),
  };
}

/**
 * A stable hash of what the trust material trusts (keys, certificates, trusted root, identities) and the names
 * results show, as `sha256:<hex>`: equal material gives equal fingerprints, so it can key a verification cache.
 */
export function trustFingerprint(trust: TrustMaterial): string {
  const parts = [
    ...trust.cosignKeys.map((k) => `key\0${k.name}\0${sha256(k.key.export({ type: "spki", format: "der" }))}`).sort(),
    ...trust.notationCertificates.map((c) => `cert\0${c.name}\0${sha256(c.certificate.raw)}`).sort(),
    `root\0${trust.sigstoreTrustedRoot === undefined ? "" : sha256(Buffer.from(JSON.stringify(protobufSpecs().TrustedRoot.toJSON(trust.sigstoreTrustedRoot as TrustedRoot))))}`,
    ...(trust.identities ?? []).map((i) => `id\0${i.issuer}\0${i.subject}`).sort(),
  ];
  return `sha256:${sha256(Buffer.from(parts.join("\n")))}`;
}

function sha256(data: Buffer | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
