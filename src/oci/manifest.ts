import { RegistryError } from "./errors.js";
import { parseDigest, type Digest } from "./digest.js";
import { MediaType, bareMediaType, isSchema1, manifestKind, type ManifestKind } from "./media-types.js";

/** Manifest parsing and validation: everything the registry must check before it stores a manifest. */

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Record<string, unknown>;
}

export interface ParsedManifest {
  mediaType: string;
  kind: ManifestKind;
  /** Config and layers of an image manifest; empty for an index. */
  blobs: Descriptor[];
  /** Children of an index; empty for an image manifest. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** What the referrers API reports: `artifactType`, else the config's media type for an image manifest. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Content types that say nothing about which manifest this is; treated as if absent. */
const GENERIC_CONTENT_TYPES = new Set(["application/json", "application/octet-stream", "text/plain"]);

type Json = Record<string, unknown>;

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError("MANIFEST_INVALID", message, detail);
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== "string")) {
    throw invalid(`${where}: annotations must be a map of strings`);
  }
  return value as Record<string, string>;
}

/** Text that a database column must be able to hold: no NUL characters. */
function checkText(value: string, field: string): string {
  if (value.includes("\u0000")) throw invalid(`${field} must not contain NUL characters`);
  return value;
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where}: descriptor must be an object`);
  const { mediaType, digest, size, artifactType, urls, platform } = value;
  if (typeof mediaType !== "string" || mediaType === "") throw invalid(`${where}: mediaType is required`);
  if (typeof digest !== "string") throw invalid(`${where}: digest is required`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}: size must be a non-negative integer`, { size });
  }
  let parsed: Digest;
  try {
    parsed = parseDigest(digest);
  } catch (err) {
    throw new RegistryError("DIGEST_INVALID", `${where}: invalid digest`, { digest }, { cause: err });
  }
  const descriptor: Descriptor = { mediaType, digest: parsed, size };
  if (artifactType !== undefined) {
    if (typeof artifactType !== "string") throw invalid(`${where}: artifactType must be a string`);
    descriptor.artifactType = artifactType;
  }
  const annotations = parseAnnotations(value.annotations, where);
  if (annotations) descriptor.annotations = annotations;
  if (urls !== undefined) {
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== "string")) throw invalid(`${where}: urls must be strings`);
    descriptor.urls = urls as string[];
  }
  if (platform !== undefined) {
    if (!isObject(platform)) throw invalid(`${where}: platform must be an object`);
    descriptor.platform = platform;
  }
  return descriptor;
}

function resolveMediaType(body: Json, contentType: string | undefined): string {
  const declared = body.mediaType;
  if (declared !== undefined && typeof declared !== "string") throw invalid("mediaType must be a string");
  const header = contentType !== undefined && GENERIC_CONTENT_TYPES.has(contentType) ? undefined : contentType;
  if (isSchema1(declared ?? "") || isSchema1(header ?? "") || body.schemaVersion === 1) {
    throw invalid("Docker schema1 manifests are not supported; push schema2 or OCI", { mediaType: declared ?? header });
  }
  if (declared !== undefined && header !== undefined && declared !== header) {
    throw invalid(`manifest mediaType ${declared} does not match Content-Type ${header}`, {
      mediaType: declared,
      contentType: header,
    });
  }
  const mediaType = declared ?? header;
  if (mediaType !== undefined) return mediaType;
  if (Array.isArray(body.manifests)) return MediaType.OciIndex;
  if (body.config !== undefined) return MediaType.OciManifest;
  throw invalid("manifest has no mediaType and no Content-Type");
}

/**
 * Parses a manifest as pushed. `contentType` is the request's Content-Type header, if any.
 * Throws MANIFEST_INVALID (or DIGEST_INVALID for a malformed descriptor digest) with a message
 * that names the offending field.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch {
    throw invalid("manifest is not valid JSON");
  }
  if (!isObject(body)) throw invalid("manifest must be a JSON object");
  const mediaType = checkText(resolveMediaType(body, bareMediaType(contentType)), "mediaType");
  const kind = manifestKind(mediaType);
  if (!kind) throw invalid(`unsupported manifest media type ${mediaType}`, { mediaType });
  if (body.schemaVersion !== 2) throw invalid("schemaVersion must be 2", { schemaVersion: body.schemaVersion });

  const manifest: ParsedManifest = { mediaType, kind, blobs: [], manifests: [] };
  if (kind === "image") {
    const config = parseDescriptor(body.config, "config");
    checkText(config.mediaType, "config.mediaType");
    if (!Array.isArray(body.layers)) throw invalid("layers must be an array");
    const layers = body.layers.map((layer, i) => parseDescriptor(layer, `layers[${i}]`));
    manifest.blobs = [config, ...layers];
    manifest.artifactType = config.mediaType;
  } else {
    if (!Array.isArray(body.manifests)) throw invalid("manifests must be an array");
    manifest.manifests = body.manifests.map((child, i) => parseDescriptor(child, `manifests[${i}]`));
  }
  if (body.artifactType !== undefined) {
    if (typeof body.artifactType !== "string") throw invalid("artifactType must be a string");
    manifest.artifactType = checkText(body.artifactType, "artifactType");
  }
  if (body.subject !== undefined) manifest.subject = parseDescriptor(body.subject, "subject");
  const annotations = parseAnnotations(body.annotations, "manifest");
  if (annotations) manifest.annotations = annotations;
  return manifest;
}
