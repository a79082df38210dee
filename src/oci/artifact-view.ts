import { MediaType } from "./media-types.js";

/**
 * What the web UI's artifact page shows of a stored manifest and its image config, read from their
 * JSON without I/O. Everything here is pushed content: values come back as the strings they are
 * (never interpreted, never trimmed of markup); a field of the wrong type is left out rather than
 * coerced, so a hostile config cannot turn an object into text that looks like ours.
 */

/** A descriptor as the page lists it (layers, index children, the subject). */
export interface DescriptorView {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** `os/architecture[/variant]`, for index children that name a platform. */
  platform?: string;
}

/** The parts of a stored manifest the page shows. */
export interface ManifestView {
  artifactType?: string;
  annotations: Record<string, string>;
  config?: DescriptorView;
  layers: DescriptorView[];
  /** Children of an index (undefined for an image manifest). */
  manifests?: DescriptorView[];
  subject?: DescriptorView;
}

/** One step of an image's history. */
export interface HistoryEntry {
  created?: string;
  createdBy?: string;
  emptyLayer: boolean;
  comment?: string;
}

/** The fields of an OCI image config or Docker container config the page shows. */
export interface ImageConfigView {
  platform?: string;
  created?: string;
  author?: string;
  labels: Record<string, string>;
  env?: string[];
  entrypoint?: string[];
  cmd?: string[];
  history: HistoryEntry[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((s) => typeof s === "string") ? (v as string[]) : undefined);

/** A map of strings; entries whose value is not a string are dropped. */
function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, value] of Object.entries(v)) if (typeof value === "string") out[k] = value;
  return out;
}

/** `linux/arm64/v8` from a platform object (an index entry's, or a config's own fields). */
export function platformString(p: unknown): string | undefined {
  if (!isObject(p)) return undefined;
  const parts = [p.os, p.architecture, p.variant].filter((x): x is string => typeof x === "string" && x !== "");
  return parts.length > 0 ? parts.join("/") : undefined;
}

/** Media types of image configs whose fields `describeImageConfig` reads. */
export function isImageConfigMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciConfig || mediaType === MediaType.DockerConfig;
}

function descriptorView(v: unknown): DescriptorView | undefined {
  if (!isObject(v) || typeof v.digest !== "string" || typeof v.mediaType !== "string" || typeof v.size !== "number") return undefined;
  const annotations = isObject(v.annotations) ? stringMap(v.annotations) : undefined;
  const platform = platformString(v.platform);
  return {
    digest: v.digest,
    mediaType: v.mediaType,
    size: v.size,
    ...(typeof v.artifactType === "string" ? { artifactType: v.artifactType } : {}),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
    ...(platform ? { platform } : {}),
  };
}

const descriptors = (v: unknown): DescriptorView[] =>
  Array.isArray(v) ? v.map(descriptorView).filter((d): d is DescriptorView => d !== undefined) : [];

/**
 * The page's view of manifest bytes the registry accepted (so they parse); `mediaType` is the
 * stored one. Schema 1 manifests (and anything unreadable) give empty lists.
 */
export function describeManifest(content: Uint8Array, mediaType: string): ManifestView {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(content).toString("utf8"));
  } catch {
    return { annotations: {}, layers: [] };
  }
  if (!isObject(body)) return { annotations: {}, layers: [] };
  const isIndex = mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList || Array.isArray(body.manifests);
  const config = isIndex ? undefined : descriptorView(body.config);
  const subject = descriptorView(body.subject);
  const artifactType = str(body.artifactType) ?? (config && config.mediaType !== MediaType.OciEmpty && !isImageConfigMediaType(config.mediaType) ? config.mediaType : undefined);
  return {
    ...(artifactType !== undefined ? { artifactType } : {}),
    annotations: stringMap(body.annotations),
    ...(config ? { config } : {}),
    layers: isIndex ? [] : descriptors(body.layers),
    ...(isIndex ? { manifests: descriptors(body.manifests) } : {}),
    ...(subject ? { subject } : {}),
  };
}

/**
 * The fields of an image config (OCI or Docker; parsed JSON). Labels are `config.Labels`; history
 * keeps every entry with its own fields, `emptyLayer` false unless the entry says `empty_layer: true`.
 */
export function describeImageConfig(config: unknown): ImageConfigView {
  if (!isObject(config)) return { labels: {}, history: [] };
  const inner = isObject(config.config) ? config.config : {};
  const platform = platformString(config);
  const created = str(config.created);
  const author = str(config.author);
  const env = strings(inner.Env);
  const entrypoint = strings(inner.Entrypoint);
  const cmd = strings(inner.Cmd);
  const history = Array.isArray(config.history)
    ? config.history.filter(isObject).map((h): HistoryEntry => {
        const when = str(h.created);
        const by = str(h.created_by);
        const comment = str(h.comment);
        return { ...(when !== undefined ? { created: when } : {}), ...(by !== undefined ? { createdBy: by } : {}), emptyLayer: h.empty_layer === true, ...(comment !== undefined ? { comment } : {}) };
      })
    : [];
  return {
    ...(platform ? { platform } : {}),
    ...(created !== undefined ? { created } : {}),
    ...(author !== undefined ? { author } : {}),
    labels: stringMap(inner.Labels),
    ...(env ? { env } : {}),
    ...(entrypoint ? { entrypoint } : {}),
    ...(cmd ? { cmd } : {}),
    history,
  };
}
