import { createHash } from "node:crypto";
import { parseDigest, type Digest } from "../../oci/digest.js";
import { SignatureRefused, type FetchBlob } from "./types.js";

/** Media types and annotations of the signature formats Berth recognises. */
export const SignatureMediaType = {
  CosignSimpleSigning: "application/vnd.dev.cosign.simplesigning.v1+json",
  NotationSignature: "application/vnd.cncf.notary.signature",
  Jws: "application/jose+json",
  Cose: "application/cose",
} as const;

export const COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
export const COSIGN_CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate";

/** `application/vnd.dev.sigstore.bundle.v0.3+json` and the older `application/vnd.dev.sigstore.bundle+json;version=0.x`. */
export function isBundleMediaType(mediaType: string | undefined): boolean {
  if (mediaType === undefined) return false;
  return /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.[123]\+json|\+json(;\s*version=0\.[123])?)$/.test(mediaType.trim());
}

/** One layer (or blob descriptor) of a signature manifest. */
export interface LayerRef {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

/** The fields of an OCI/Docker manifest that signature recognition looks at. */
export interface SignatureManifest {
  artifactType?: string;
  configMediaType?: string;
  layers: LayerRef[];
  subject?: string;
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string"));
}

/** Parses manifest JSON leniently; undefined when it is not a JSON object with a layers array. */
export function parseSignatureManifest(content: Buffer): SignatureManifest | undefined {
  let json: unknown;
  try {
    json = JSON.parse(content.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null) return undefined;
  const m = json as Record<string, unknown>;
  const layers = Array.isArray(m.layers) ? m.layers : Array.isArray(m.blobs) ? m.blobs : undefined;
  if (!layers) return undefined;
  const config = m.config as Record<string, unknown> | undefined;
  const subject = m.subject as Record<string, unknown> | undefined;
  return {
    artifactType: typeof m.artifactType === "string" ? m.artifactType : undefined,
    configMediaType: typeof config?.mediaType === "string" ? config.mediaType : undefined,
    subject: typeof subject?.digest === "string" ? subject.digest : undefined,
    layers: layers
      .filter((l): l is Record<string, unknown> => typeof l === "object" && l !== null)
      .map((l) => ({
        mediaType: typeof l.mediaType === "string" ? l.mediaType : "",
        digest: typeof l.digest === "string" ? l.digest : "",
        size: typeof l.size === "number" ? l.size : -1,
        annotations: stringRecord(l.annotations),
      })),
  };
}

export type SignatureFormat = "cosign" | "sigstore-bundle" | "notation";

/** Which signature format a manifest carries, if any. */
export function signatureFormat(m: SignatureManifest): SignatureFormat | undefined {
  if (m.artifactType === SignatureMediaType.NotationSignature || m.configMediaType === SignatureMediaType.NotationSignature) {
    return "notation";
  }
  if (isBundleMediaType(m.artifactType) || m.layers.some((l) => isBundleMediaType(l.mediaType))) return "sigstore-bundle";
  if (m.layers.some((l) => l.mediaType === SignatureMediaType.CosignSimpleSigning)) return "cosign";
  return undefined;
}

/**
 * Reads a layer's blob, refusing when the descriptor is malformed, larger than maxBytes, or the bytes do not
 * hash to its digest (the fetcher may be a store that trusts its keys; a signature check must not).
 */
export async function fetchLayer(fetchBlob: FetchBlob, layer: LayerRef, maxBytes: number): Promise<Buffer> {
  let digest: Digest;
  try {
    digest = parseDigest(layer.digest);
  } catch {
    throw new SignatureRefused(`layer digest ${JSON.stringify(layer.digest)} is not a valid digest`);
  }
  if (layer.size > maxBytes) throw new SignatureRefused(`layer ${digest} is ${layer.size} bytes, more than the ${maxBytes} allowed`);
  let blob: Buffer;
  try {
    blob = await fetchBlob(digest, maxBytes);
  } catch (err) {
    throw new SignatureRefused(`cannot read layer ${digest}: ${(err as Error).message}`);
  }
  const [algorithm, hex] = digest.split(":") as [string, string];
  if (createHash(algorithm).update(blob).digest("hex") !== hex) {
    throw new SignatureRefused(`layer ${digest} does not match its content`);
  }
  return blob;
}
