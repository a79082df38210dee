import { text } from "node:stream/consumers";
import type { Digest } from "../oci/digest.js";
import { MediaType, manifestKind } from "../oci/media-types.js";
import type { BlobStore } from "../storage/blob-store.js";

/** The platforms of stored manifests, as `os/architecture[/variant]` strings. */
export interface Platforms {
  /**
   * An index's: its children's platforms in its order, without `unknown/unknown` (buildx's
   * attestation manifests). An image's: from its config blob (read once per config digest, then
   * remembered), when the config is an image config of at most CONFIG_LIMIT bytes. Anything else
   * (an artifact, a config that cannot be read or parsed): none.
   */
  of(mediaType: string, content: Buffer): Promise<string[]>;
}

const CONFIG_LIMIT = 1024 * 1024;
const REMEMBERED = 10_000;
const IMAGE_CONFIGS = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);

function format(p: unknown): string | undefined {
  if (typeof p !== "object" || p === null) return undefined;
  const { os, architecture, variant } = p as Record<string, unknown>;
  if (typeof os !== "string" || typeof architecture !== "string" || (os === "unknown" && architecture === "unknown")) return undefined;
  return typeof variant === "string" && variant !== "" ? `${os}/${architecture}/${variant}` : `${os}/${architecture}`;
}

function parse(content: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(content.toString("utf8"));
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function createPlatforms(blobs: BlobStore): Platforms {
  const configs = new Map<string, Promise<string | undefined>>();
  const configPlatform = (digest: Digest): Promise<string | undefined> => {
    let known = configs.get(digest);
    if (!known) {
      known = blobs
        .read(digest)
        .then((stream) => text(stream))
        .then((json) => format(JSON.parse(json)))
        .catch(() => {
          // A missing or unreadable config may appear later (a pull-through cache fetches lazily).
          configs.delete(digest);
          return undefined;
        });
      if (configs.size >= REMEMBERED) configs.clear();
      configs.set(digest, known);
    }
    return known;
  };
  return {
    async of(mediaType, content) {
      const manifest = parse(content);
      if (!manifest) return [];
      const kind = manifestKind(mediaType) ?? (Array.isArray(manifest.manifests) ? "index" : "image");
      if (kind === "index") {
        const children = Array.isArray(manifest.manifests) ? (manifest.manifests as Record<string, unknown>[]) : [];
        return [...new Set(children.map((c) => format(c?.platform)).filter((p): p is string => p !== undefined))];
      }
      const config = manifest.config as Record<string, unknown> | undefined;
      if (
        !config ||
        typeof config.digest !== "string" ||
        !IMAGE_CONFIGS.has(String(config.mediaType)) ||
        typeof config.size !== "number" ||
        config.size > CONFIG_LIMIT
      ) {
        return [];
      }
      const platform = await configPlatform(config.digest as Digest);
      return platform ? [platform] : [];
    },
  };
}
