import { parseDigest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import { MediaType } from "../../oci/media-types.js";
import type { PageRequest, PageResult } from "../../registry/listing.js";
import type { Handler } from "../context.js";
import { reply, type Headers } from "../respond.js";
import type { Route } from "../routes.js";

export function pageParams(url: URL): PageRequest {
  const page: PageRequest = {};
  const n = url.searchParams.get("n");
  if (n !== null) {
    if (!/^\d+$/.test(n)) throw new RegistryError("PAGINATION_NUMBER_INVALID", "n must be a non-negative integer", { n });
    page.n = Number(n);
  }
  const last = url.searchParams.get("last");
  if (last !== null && last !== "") page.last = last;
  return page;
}

/** RFC 5988 `Link` to the next page, keeping the page size the client asked for. */
export function nextLink(url: URL, result: PageResult<string>, page: PageRequest): Headers {
  if (result.next === undefined) return {};
  const next = new URLSearchParams();
  if (page.n !== undefined) next.set("n", String(page.n));
  next.set("last", result.next);
  return { Link: `<${url.pathname}?${next.toString()}>; rel="next"` };
}

/** GET /v2/<name>/tags/list?n=&last= */
export const handleTags: Handler<Extract<Route, { kind: "tags" }>> = async ({ res, url, registry }, { name }) => {
  const page = pageParams(url);
  const result = await registry.listing.tags(name, page);
  reply(res, 200, nextLink(url, result, page), { name, tags: result.items });
};

/** GET /v2/_catalog?n=&last= */
export const handleCatalog: Handler<Extract<Route, { kind: "catalog" }>> = async ({ res, url, registry, guard, caller }) => {
  const page = pageParams(url);
  // Only what the caller may pull is listed.
  const result = await registry.listing.catalog(page, guard.enabled ? (name) => guard.canPull(caller, name) : undefined);
  reply(res, 200, nextLink(url, result, page), { repositories: result.items });
};

/** GET /v2/<name>/referrers/<digest>?artifactType= */
export const handleReferrers: Handler<Extract<Route, { kind: "referrers" }>> = async (
  { res, url, registry },
  { name, digest },
) => {
  const artifactType = url.searchParams.get("artifactType") ?? undefined;
  const index = await registry.listing.referrers(name, parseDigest(digest), artifactType);
  const headers: Headers = { "Content-Type": MediaType.OciIndex };
  if (artifactType !== undefined) headers["OCI-Filters-Applied"] = "artifactType";
  reply(res, 200, headers, Buffer.from(JSON.stringify(index)));
};
