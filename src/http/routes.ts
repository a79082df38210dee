import { RegistryError } from "../oci/errors.js";
import { parseName } from "../oci/reference.js";

/** A request path under /v2, decoded. Names may have many segments, including `blobs` or `manifests`. */
export type Route =
  | { kind: "base" }
  | { kind: "catalog" }
  | { kind: "tags"; name: string }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "uploads"; name: string }
  | { kind: "upload"; name: string; id: string }
  | { kind: "referrers"; name: string; digest: string };

type Tail = { re: RegExp; route: (name: string, last: string) => Route };

// Longest suffix first: a repository may be called `x/blobs/uploads`, so the suffix decides.
const TAILS: Tail[] = [
  { re: /^(.+)\/blobs\/uploads\/?$/, route: (name) => ({ kind: "uploads", name }) },
  { re: /^(.+)\/blobs\/uploads\/([^/]+)$/, route: (name, id) => ({ kind: "upload", name, id }) },
  { re: /^(.+)\/blobs\/([^/]+)$/, route: (name, digest) => ({ kind: "blob", name, digest }) },
  { re: /^(.+)\/manifests\/([^/]+)$/, route: (name, reference) => ({ kind: "manifest", name, reference }) },
  { re: /^(.+)\/tags\/list$/, route: (name) => ({ kind: "tags", name }) },
  { re: /^(.+)\/referrers\/([^/]+)$/, route: (name, digest) => ({ kind: "referrers", name, digest }) },
];

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryError("NAME_INVALID", "malformed percent-encoding in path", { segment });
  }
}

/**
 * Maps a URL path to a route; undefined when the path is not part of the registry API.
 * Throws NAME_INVALID when the path has the shape of a route but the repository name is invalid.
 */
export function parseV2Path(path: string): Route | undefined {
  if (path === "/v2" || path === "/v2/") return { kind: "base" };
  if (!path.startsWith("/v2/")) return undefined;
  const rest = path.slice(4);
  if (rest === "_catalog") return { kind: "catalog" };
  for (const tail of TAILS) {
    const match = tail.re.exec(rest);
    if (!match) continue;
    const route = tail.route(parseName(match[1]!), decode(match[2] ?? ""));
    return route;
  }
  return undefined;
}

export const routePaths = {
  manifest: (name: string, reference: string) => `/v2/${name}/manifests/${reference}`,
  blob: (name: string, digest: string) => `/v2/${name}/blobs/${digest}`,
  upload: (name: string, id: string) => `/v2/${name}/blobs/uploads/${id}`,
};
