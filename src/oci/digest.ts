import { createHash, type Hash } from "node:crypto";
import { RegistryError } from "./errors.js";

/**
 * Content digests, `algorithm ":" encoded`. Berth accepts the two algorithms the OCI image spec
 * registers: sha256 (the default everywhere) and sha512.
 */

export type DigestAlgorithm = "sha256" | "sha512";

/** A validated digest string such as `sha256:e3b0…`. */
export type Digest = string & { readonly __digest: unique symbol };

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export const DEFAULT_ALGORITHM: DigestAlgorithm = "sha256";

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === "sha256" || value === "sha512";
}

/** Parses and validates a digest; throws DIGEST_INVALID naming the value when it is malformed or unsupported. */
export function parseDigest(value: string): Digest {
  const match = DIGEST_RE.exec(value);
  if (!match) throw new RegistryError("DIGEST_INVALID", "invalid digest format", { digest: value });
  const algorithm = match[1]!;
  const encoded = match[2]!;
  if (!isDigestAlgorithm(algorithm)) {
    throw new RegistryError("DIGEST_INVALID", `unsupported digest algorithm ${algorithm}`, { digest: value });
  }
  if (encoded.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(encoded)) {
    throw new RegistryError("DIGEST_INVALID", `invalid ${algorithm} digest`, { digest: value });
  }
  return value as Digest;
}

/** Returns the digest if valid, undefined otherwise: for places where a malformed value simply does not match. */
export function tryParseDigest(value: string): Digest | undefined {
  try {
    return parseDigest(value);
  } catch {
    return undefined;
  }
}

export function looksLikeDigest(value: string): boolean {
  return value.includes(":");
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(":")) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(":") + 1);
}

export function createDigester(algorithm: DigestAlgorithm = DEFAULT_ALGORITHM): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = DEFAULT_ALGORITHM): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}` as Digest;
}

export function formatDigest(algorithm: DigestAlgorithm, hex: string): Digest {
  return `${algorithm}:${hex}` as Digest;
}

/** `{}`: the OCI empty descriptor's content, which artifacts use as a placeholder config. */
export const EMPTY_JSON = Buffer.from("{}");
export const EMPTY_JSON_DIGEST = digestOf(EMPTY_JSON);
