import { parseDigest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import { MediaType } from "../../oci/media-types.js";
import { parseReference } from "../../oci/reference.js";
import type { ProxyTarget, PullThrough } from "../../proxy/pull-through.js";
import type { RequestContext } from "../context.js";
import { reply, replyStream, type Headers } from "../respond.js";
import type { Route } from "../routes.js";
import { handleBlob, partialHeaders, requestedRange } from "./blobs.js";
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

/**
 * Where a /v2 request is served from, once the pull-through cache and the guard (`check`, which
 * sets the caller or throws) had their say. Upstream content is read, and authorized, under its
 * cache repository's name. A name without an upstream prefix is the default upstream's only for
 * callers who may read its cache repository; for the others it stays a local name: a push to a new
 * repository starts with reads of it (skopeo and podman HEAD each blob), which must not be refused
 * for the cache's sake. Pushes under an upstream's prefix are refused before anything else.
 */
export async function admitThroughCache(
  ctx: RequestContext,
  route: Route,
  proxy: PullThrough,
  access: { check(route: Route): Promise<void>; refused(err: unknown, route: Route): Promise<unknown> },
): Promise<{ route: Route; proxied?: ProxyTarget }> {
  const admit = (r: Route, proxied?: ProxyTarget) =>
    access.check(r).then(
      () => (proxied ? { route: r, proxied } : { route: r }),
      async (err: unknown) => Promise.reject(await access.refused(err, r)),
    );
  const method = ctx.req.method;
  if (!("name" in route)) return admit(route);
  if (isWrite(route, method)) proxy.refuseWrite(route.name);
  if (!isProxiedRead(route, method)) return admit(route);
  const resolution = await proxy.resolve(route.name, ctx.url.searchParams.get("ns") ?? undefined, route.kind);
  if (resolution.kind === "local") return admit(route);
  const { target } = resolution;
  const cached = { ...route, name: target.local };
  if (route.name.startsWith(`${target.upstream.name}/`)) return admit(cached, target);
  try {
    await access.check(cached);
    return { route: cached, proxied: target };
  } catch (err) {
    // A caller served the local name instead was not refused: only a refusal that stands is audited.
    if (!(err instanceof RegistryError) || err.code !== "DENIED") throw await access.refused(err, cached);
    return admit(route);
  }
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
      let range;
      try {
        range = fetch.size === undefined ? undefined : requestedRange(req.headers.range, fetch.size);
      } catch (err) {
        fetch.release();
        throw err;
      }
      if (range) return replyStream(res, 206, { ...headers, ...partialHeaders(range, fetch.size!) }, fetch.reader(range.start, range.end));
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
