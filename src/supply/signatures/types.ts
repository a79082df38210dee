import type { KeyObject, X509Certificate } from "node:crypto";
import type { Digest } from "../../oci/digest.js";

/** A keyless signer identity a policy accepts: the OIDC issuer exactly, the certificate subject (SAN) by glob. */
export interface TrustedIdentity {
  issuer: string;
  subject: string;
}

/**
 * What one signature policy trusts, loaded from the operator's files by loadTrustMaterial. Everything here is
 * offline: no key or certificate is fetched, no transparency log is asked.
 */
export interface TrustMaterial {
  /** Name shown in results (file path) and the key. */
  cosignKeys: { name: string; key: KeyObject }[];
  /** X.509 trust anchors for notation (roots or intermediates the operator trusts). */
  notationCertificates: { name: string; certificate: X509Certificate }[];
  /**
   * Parsed sigstore trusted_root.json (the @sigstore/protobuf-specs TrustedRoot), when the operator supplies one.
   * With it, transparency-log entries carried by key-based bundles are checked offline; keyless signatures are
   * not accepted yet either way.
   */
  sigstoreTrustedRoot?: unknown;
  identities?: TrustedIdentity[];
}

/** A manifest that may carry signatures for `subject`: the `sha256-<hex>.sig` tagged manifest, or a referrer of subject. */
export interface SignatureArtifact {
  digest: Digest;
  mediaType: string;
  content: Buffer;
  via: "tag" | "referrer";
}

/** Reads one blob of the repository; rejects past maxBytes, or when the blob is missing. */
export type FetchBlob = (digest: Digest, maxBytes: number) => Promise<Buffer>;

/** The outcome of one signature found in an artifact (a `.sig` manifest holds one per layer). */
export interface SignatureCheck {
  artifact: Digest;
  format: "cosign" | "sigstore-bundle" | "notation";
  valid: boolean;
  /** Key name (its file) or certificate subject that made a valid signature. */
  signer?: string;
  /** Why the signature was refused, one line. */
  reason?: string;
}

/** `verified` when at least one check is valid. */
export interface VerificationResult {
  verified: boolean;
  checks: SignatureCheck[];
}

/** Extra inputs some formats need. */
export interface VerifyOptions {
  /**
   * The subject manifest's bytes: a sigstore bundle with a messageSignature signs those bytes, not a statement
   * naming the digest, so without them such bundles are refused.
   */
  subjectContent?: Buffer;
}

/** Thrown inside a format check for a signature that is refused; becomes `{valid: false, reason}`. */
export class SignatureRefused extends Error {
  override readonly name = "SignatureRefused";
}
