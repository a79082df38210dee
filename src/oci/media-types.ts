/** Media types a Docker/OCI registry must recognise. */

export const MediaType = {
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciEmpty: "application/vnd.oci.empty.v1+json",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  DockerForeignLayer: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

export type ManifestKind = "image" | "index";

const MANIFEST_KINDS: Record<string, ManifestKind> = {
  [MediaType.OciManifest]: "image",
  [MediaType.DockerManifest]: "image",
  [MediaType.OciIndex]: "index",
  [MediaType.DockerManifestList]: "index",
};

/** The manifest kind of a media type, or undefined when Berth does not store manifests of that type. */
export function manifestKind(mediaType: string): ManifestKind | undefined {
  return MANIFEST_KINDS[mediaType];
}

export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.keys(MANIFEST_KINDS);

export function isSchema1(mediaType: string): boolean {
  return mediaType === MediaType.DockerSchema1 || mediaType === MediaType.DockerSchema1Signed;
}

/**
 * Layers whose bytes live elsewhere (Windows base layers, OCI non-distributable layers): a manifest
 * may reference them without the blob being in the registry.
 */
export function isNonDistributable(mediaType: string): boolean {
  return mediaType === MediaType.DockerForeignLayer || mediaType.includes(".nondistributable.");
}

/** Strips parameters (`; charset=utf-8`) and whitespace from a Content-Type header value. */
export function bareMediaType(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const bare = value.split(";")[0]!.trim().toLowerCase();
  return bare === "" ? undefined : bare;
}
