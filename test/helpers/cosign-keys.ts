import { generateKeyPairSync, randomBytes, scryptSync, type KeyObject } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import nacl from "tweetnacl";

/** A cosign key pair on disk, as `cosign generate-key-pair` writes it. */
export interface CosignKeyPair {
  /** `cosign.key`: ENCRYPTED SIGSTORE PRIVATE KEY PEM (skopeo `--sign-by-sigstore-private-key`). */
  privateKeyPath: string;
  /** `cosign.pub`: PEM SubjectPublicKeyInfo, what a policy's `cosignKeys` names. */
  publicKeyPath: string;
  /** `cosign.pass`: the passphrase (skopeo `--sign-passphrase-file`). */
  passphrasePath: string;
  passphrase: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** scrypt N=32768, r=8, p=1: cosign's (go-securesystemslib's) defaults. */
const SCRYPT = { N: 32768, r: 8, p: 1 };

/**
 * Encrypts a private key the way cosign does (go-securesystemslib `encrypted`): scrypt derives a 32-byte key from
 * the passphrase and a random salt, nacl secretbox seals the PKCS#8 DER, and the JSON of kdf, cipher and
 * ciphertext is the body of an `ENCRYPTED SIGSTORE PRIVATE KEY` PEM block.
 */
export function encryptCosignPrivateKey(privateKey: KeyObject, passphrase: string, pemType = "ENCRYPTED SIGSTORE PRIVATE KEY"): string {
  const salt = randomBytes(32);
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const key = scryptSync(passphrase, salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  const der = privateKey.export({ type: "pkcs8", format: "der" });
  const ciphertext = nacl.secretbox(new Uint8Array(der), new Uint8Array(nonce), new Uint8Array(key));
  const body = JSON.stringify({
    kdf: { name: "scrypt", params: SCRYPT, salt: salt.toString("base64") },
    cipher: { name: "nacl/secretbox", nonce: nonce.toString("base64") },
    ciphertext: Buffer.from(ciphertext).toString("base64"),
  });
  const lines = Buffer.from(body).toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${pemType}-----\n${lines.join("\n")}\n-----END ${pemType}-----\n`;
}

/** Generates an ECDSA P-256 cosign key pair and writes cosign.key, cosign.pub and cosign.pass into `dir`. */
export async function createCosignKeyPair(dir: string, passphrase = "berth-test-passphrase"): Promise<CosignKeyPair> {
  await mkdir(dir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pair: CosignKeyPair = {
    privateKeyPath: join(dir, "cosign.key"),
    publicKeyPath: join(dir, "cosign.pub"),
    passphrasePath: join(dir, "cosign.pass"),
    passphrase,
    privateKey,
    publicKey,
  };
  await writeFile(pair.privateKeyPath, encryptCosignPrivateKey(privateKey, passphrase), { mode: 0o600 });
  await writeFile(pair.publicKeyPath, publicKey.export({ type: "spki", format: "pem" }));
  await writeFile(pair.passphrasePath, passphrase, { mode: 0o600 });
  return pair;
}
