import { manifestKind } from "../oci/media-types.js";

/**
 * Whether pull policies (signatures, vulnerabilities) apply to a manifest: an image index, or an
 * image manifest with at least one image layer (`application/vnd.oci.image.layer.*`,
 * `application/vnd.docker.image.rootfs.*`), and in both cases no `subject`. Everything else stays
 * pullable under any policy: cosign `.sig` manifests (simple-signing layers), sigstore bundles,
 * notation signatures, SBOMs and other artifacts, so clients can always fetch what verifies an image.
 */
export function isGatedManifest(mediaType: string, content: Buffer): boolean {
  const kind = manifestKind(mediaType);
  if (kind === undefined) return false;
  let json: unknown;
  try {
    json = JSON.parse(content.toString("utf8"));
  } catch {
    return false;
  }
  if (typeof json !== "object" || json === null) return false;
  const manifest = json as { subject?: unknown; layers?: unknown };
  if (manifest.subject !== undefined && manifest.subject !== null) return false;
  if (kind === "index") return true;
  return Array.isArray(manifest.layers) && manifest.layers.some((l) => isImageLayer((l as { mediaType?: unknown } | null)?.mediaType));
}

function isImageLayer(mediaType: unknown): boolean {
  return (
    typeof mediaType === "string" &&
    (mediaType.startsWith("application/vnd.oci.image.layer.") || mediaType.startsWith("application/vnd.docker.image.rootfs."))
  );
}
