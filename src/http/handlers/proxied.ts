import { parseDigest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import { MediaType } from "../../oci/media-types.js";
import { parseRangeHeader } from "../../oci/range.js";
import { parseReference } from "../../oci/reference.js";
import type { ProxyTarget, PullThrough } from "../../proxy/pull-through.js";
import type { RequestContext } from "../context.js";
import { reply, replyStream, type Headers } from "../respond.js";
import type { Route } from "../routes.js";
import { handleBlob } from "./blobs.js";
import { handleReferrers, nextLink, pageParams } from "./listing.js";
import { handleManifest } from "./manifests.js";

/** The reads a pull-through cache answers: manifests, blobs, tags and referrers. */
export function isProxiedRead(route: Route, method: string | undefined): route is Extract<Route, { kind: "manifest" | "blob" | "tags" | "referrers" }> {
  return (method === "GET" || method === "HEAD") && (route.kind === "manifest" || route.kind === "blob" || route.kind === "tags" || route.kind === "referrers");
}

/** Whether a request writes under `route.name` (pushes and uploads; deletes stay allowed, to evict). */
export function isWrite(route: Route, method: string | undefined): boolean {
  return route.kind === "uploads" || route.kind === "upload" || (route.kind === "manifest" && method === "PUT");
}

type ProxiedRoute = Extract<Route, { kind: "manifest" | "blob" | "tags" | "referrers" }>;

/**
 * A read of an upstream's content: the pull-through cache fills `target.local` where needed and
 * the ordinary handlers serve it from there, except for a cold blob (streamed while it is
 * fetched) and listings the upstream answered. `requested` is the name as the client wrote it.
 */
export async function handleProxied(ctx: RequestContext, route: ProxiedRoute, target: ProxyTarget, proxy: PullThrough, requested: string): Promise<void> {
  const { req, res, url, registry } = ctx;
  switch (route.kind) {
    case "manifest": {
      let reference;
      try {
        reference = parseReference(route.reference);
      } catch {
        return handleManifest(ctx, route);
      }
      res.setHeader("Cache-Status", await proxy.manifest(target, reference));
      try {
        return await handleManifest(ctx, route);
      } catch (err) {
        // Retention or garbage collection removed it between filling the cache and reading it: fill once more.
        if (!(err instanceof RegistryError && err.code === "MANIFEST_UNKNOWN") || res.headersSent) throw err;
        res.setHeader("Cache-Status", await proxy.manifest(target, reference));
        return handleManifest(ctx, route);
      }
    }
    case "blob": {
      const digest = parseDigest(route.digest);
      const outcome = await proxy.blob(target, digest, req.method ?? "GET");
      res.setHeader("Cache-Status", outcome.cacheStatus);
      if (outcome.kind === "local") return handleBlob(ctx, route);
      const headers: Headers = { "Content-Type": "application/octet-stream", "Docker-Content-Digest": digest };
      if (outcome.kind === "head") return reply(res, 200, { ...headers, "Content-Length": outcome.size });
      const { fetch } = outcome;
      const range = fetch.size === undefined ? { kind: "none" as const } : parseRangeHeader(req.headers.range, fetch.size);
      if (range.kind === "unsatisfiable") {
        fetch.release();
        throw new RegistryError("RANGE_INVALID", "requested range not satisfiable", { size: fetch.size }, { headers: { "Content-Range": `bytes */${fetch.size}` } });
      }
      if (range.kind === "satisfiable") {
        const { start, end } = range.range;
        return replyStream(res, 206, { ...headers, "Content-Length": end - start + 1, "Content-Range": `bytes ${start}-${end}/${fetch.size}` }, fetch.reader(start, end));
      }
      if (fetch.size !== undefined) headers["Content-Length"] = fetch.size;
      return replyStream(res, 200, headers, fetch.reader());
    }
    case "tags": {
      const page = pageParams(url);
      const outcome = await proxy.tags(target, page);
      res.setHeader("Cache-Status", outcome.cacheStatus);
      const result = outcome.kind === "upstream"
        ? { items: outcome.value.tags, ...(outcome.value.next !== undefined ? { next: outcome.value.next } : {}) }
        : await registry.listing.tags(route.name, page);
      return reply(res, 200, nextLink(url, result, page), { name: requested, tags: result.items });
    }
    case "referrers": {
      const artifactType = url.searchParams.get("artifactType") ?? undefined;
      const outcome = await proxy.referrers(target, parseDigest(route.digest), artifactType);
      res.setHeader("Cache-Status", outcome.cacheStatus);
      if (outcome.kind === "local") return handleReferrers(ctx, route);
      const headers: Headers = { "Content-Type": MediaType.OciIndex };
      if (outcome.value.filtersApplied !== undefined) headers["OCI-Filters-Applied"] = outcome.value.filtersApplied;
      return reply(res, 200, headers, outcome.value.content);
    }
  }
}
