import type { Digest } from "../../oci/digest.js";
import { verifyBundle } from "./bundle.js";
import { verifyCosign } from "./cosign.js";
import { parseSignatureManifest, signatureFormat } from "./manifest.js";
import { verifyNotation } from "./notation.js";
import type { FetchBlob, SignatureArtifact, SignatureCheck, TrustMaterial, VerificationResult, VerifyOptions } from "./types.js";

/**
 * Signature recognition and verification, pure of the registry: the caller hands over the candidate manifests
 * (the `sha256-<hex>.sig` tag and the referrers of the subject) and a way to read their blobs.
 *
 * - cosign simple signing: each `application/vnd.dev.cosign.simplesigning.v1+json` layer's payload, signed
 *   (annotation `dev.cosignproject.cosign/signature`) by a configured key, naming the subject digest.
 * - sigstore bundles (v0.1–v0.3) as referrers: key-based bundles signed by a configured key, whose in-toto
 *   statement names the subject (DSSE) or whose message digest is the subject's (message signature).
 * - notation: JWS envelopes whose x5c chain leads to a configured certificate, valid now, unexpired, naming the
 *   subject. COSE envelopes and keyless signatures are refused as unsupported.
 */

export type { FetchBlob, SignatureArtifact, SignatureCheck, TrustMaterial, TrustedIdentity, VerificationResult, VerifyOptions } from "./types.js";
export { loadTrustMaterial, trustFingerprint, type TrustFiles } from "./trust.js";

/** Whether a manifest is a signature Berth recognises (cosign `.sig`, sigstore bundle referrer, notation referrer). */
export function isSignatureArtifact(mediaType: string, content: Buffer): boolean {
  void mediaType;
  const manifest = parseSignatureManifest(content);
  return manifest !== undefined && signatureFormat(manifest) !== undefined;
}

async function checksOf(
  artifact: SignatureArtifact,
  subject: Digest,
  trust: TrustMaterial,
  fetchBlob: FetchBlob,
  now: Date,
  options: VerifyOptions,
): Promise<SignatureCheck[]> {
  const manifest = parseSignatureManifest(artifact.content);
  const format = manifest && signatureFormat(manifest);
  if (!manifest || !format) return [];
  if (manifest.subject !== undefined && manifest.subject !== subject) {
    return [{ artifact: artifact.digest, format, valid: false, reason: `artifact's subject is ${manifest.subject}, not ${subject}` }];
  }
  switch (format) {
    case "cosign":
      return verifyCosign(artifact.digest, manifest, subject, trust, fetchBlob);
    case "sigstore-bundle":
      return [await verifyBundle(artifact.digest, manifest, subject, trust, fetchBlob, options)];
    case "notation":
      return verifyNotation(artifact.digest, manifest, subject, trust, fetchBlob, now);
  }
}

/**
 * Verifies every signature the artifacts carry for `subject`. Never throws for bad signature data: each refused
 * signature is a check with `valid: false` and a one-line reason; artifacts that are not signatures are skipped.
 */
export async function verifySignatures(
  subject: Digest,
  artifacts: readonly SignatureArtifact[],
  trust: TrustMaterial,
  fetchBlob: FetchBlob,
  now: Date = new Date(),
  options: VerifyOptions = {},
): Promise<VerificationResult> {
  const checks = (await Promise.all(artifacts.map((a) => checksOf(a, subject, trust, fetchBlob, now, options)))).flat();
  return { verified: checks.some((c) => c.valid), checks };
}
