import { constants, verify, type KeyObject } from "node:crypto";
import type { Digest } from "../../oci/digest.js";
import {
  COSIGN_CERTIFICATE_ANNOTATION,
  COSIGN_SIGNATURE_ANNOTATION,
  SignatureMediaType,
  fetchLayer,
  type LayerRef,
  type SignatureManifest,
} from "./manifest.js";
import { SignatureRefused, type FetchBlob, type SignatureCheck, type TrustMaterial } from "./types.js";

/** Simple-signing payloads are a few hundred bytes; anything near this is not one. */
const MAX_PAYLOAD_BYTES = 1 << 20;
const COSIGN_TYPE = "cosign container image signature";

const CURVE_HASHES: Record<string, string[]> = {
  prime256v1: ["sha256"],
  secp384r1: ["sha384", "sha256"],
  secp521r1: ["sha512", "sha256"],
};

/**
 * Whether `signature` over `data` verifies under `key`, in the encodings cosign produces: ASN.1 DER ECDSA with the
 * curve's hash (or SHA-256), Ed25519, RSA PKCS#1 v1.5 or PSS with SHA-256.
 */
export function verifyWithKey(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const attempt = (fn: () => boolean) => {
    try {
      return fn();
    } catch {
      return false;
    }
  };
  switch (key.asymmetricKeyType) {
    case "ed25519":
      return attempt(() => verify(null, data, key, signature));
    case "ec": {
      const hashes = CURVE_HASHES[key.asymmetricKeyDetails?.namedCurve ?? ""] ?? ["sha256"];
      return hashes.some((h) => attempt(() => verify(h, data, { key, dsaEncoding: "der" }, signature)));
    }
    case "rsa":
    case "rsa-pss":
      return (
        attempt(() => verify("sha256", data, { key, padding: constants.RSA_PKCS1_PADDING }, signature)) ||
        attempt(() =>
          verify("sha256", data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature),
        )
      );
    default:
      return false;
  }
}

/** The manifest digest a simple-signing payload vouches for; refuses payloads of another shape. */
function signedDigest(payload: Buffer): string {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new SignatureRefused("simple-signing payload is not JSON");
  }
  const critical = (json as { critical?: { type?: unknown; image?: { "docker-manifest-digest"?: unknown } } } | null)?.critical;
  if (critical?.type !== COSIGN_TYPE) throw new SignatureRefused(`simple-signing payload type is not "${COSIGN_TYPE}"`);
  const digest = critical.image?.["docker-manifest-digest"];
  if (typeof digest !== "string") throw new SignatureRefused("simple-signing payload names no docker-manifest-digest");
  return digest;
}

async function checkLayer(layer: LayerRef, subject: Digest, trust: TrustMaterial, fetchBlob: FetchBlob): Promise<string> {
  const encoded = layer.annotations[COSIGN_SIGNATURE_ANNOTATION];
  if (!encoded) throw new SignatureRefused(`layer has no ${COSIGN_SIGNATURE_ANNOTATION} annotation`);
  const signature = Buffer.from(encoded, "base64");
  const payload = await fetchLayer(fetchBlob, layer, MAX_PAYLOAD_BYTES);
  const signer = trust.cosignKeys.find((k) => verifyWithKey(k.key, payload, signature));
  if (!signer) {
    if (layer.annotations[COSIGN_CERTIFICATE_ANNOTATION]) {
      throw new SignatureRefused("keyless signature (signing certificate, no configured key): keyless cosign signatures are not supported");
    }
    if (trust.cosignKeys.length === 0) throw new SignatureRefused("no cosignKeys are configured");
    throw new SignatureRefused(`signature does not verify under any configured cosign key (${trust.cosignKeys.length} tried)`);
  }
  const digest = signedDigest(payload);
  if (digest !== subject) throw new SignatureRefused(`signature is for ${digest}, not ${subject}`);
  return signer.name;
}

/** One check per simple-signing layer of a cosign `.sig` manifest. */
export async function verifyCosign(
  artifact: Digest,
  manifest: SignatureManifest,
  subject: Digest,
  trust: TrustMaterial,
  fetchBlob: FetchBlob,
): Promise<SignatureCheck[]> {
  const layers = manifest.layers.filter((l) => l.mediaType === SignatureMediaType.CosignSimpleSigning);
  return Promise.all(
    layers.map(async (layer): Promise<SignatureCheck> => {
      try {
        return { artifact, format: "cosign", valid: true, signer: await checkLayer(layer, subject, trust, fetchBlob) };
      } catch (err) {
        return { artifact, format: "cosign", valid: false, reason: refusalReason(err) };
      }
    }),
  );
}

/** The one-line reason of a refusal; unexpected errors are reported with their message rather than thrown. */
export function refusalReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const line = message.split("\n")[0]!;
  return err instanceof SignatureRefused ? line : `cannot verify: ${line}`;
}
