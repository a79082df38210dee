import { RegistryError } from "../../oci/errors.js";
import { createCatalog, type CatalogOptions } from "../../registry/catalog.js";
import type { RequestContext } from "../context.js";
import { reply, replyJsonArray } from "../respond.js";
import type { RepositoryEntry } from "../../registry/catalog.js";
import { pageParams } from "./listing.js";
import { authorizeMaintenance, queryFlag } from "./maintenance-access.js";

/**
 * What is stored, and whole deletions (registry/catalog.ts), JSON out:
 *
 *   GET    /api/v1/namespaces                          → [{name, repositories, declared, visibility?, owner?, members?, createdAt?}]
 *   DELETE /api/v1/namespaces/<ns>[?force=true]        → {namespace, repositories: [{repository, tags, manifests, links}], accessControl}
 *   GET    /api/v1/repositories[?namespace=<ns>][&n=&last=] → [{name, tags, manifests, visibility?}]
 *   DELETE /api/v1/repositories/<name>                 → {repository, tags, manifests, links}
 *   GET    /api/v1/repositories/<name>/tags            → [{tag, digest, immutable?}]
 *   DELETE /api/v1/repositories/<name>/tags/<tag>      → {repository, tag, digest}
 *
 * The repository list is streamed (any number of repositories, one store page in memory); with
 * `n` it is one page of at most `n` after `last`, with a `Link` to the next, as /v2/_catalog pages.
 * `<name>` may span several path segments. A DELETE whose path ends in `/tags/<tag>` deletes that
 * tag; to delete a repository whose own name ends so, send its slashes encoded (`a%2Ftags%2Fb`).
 * With access control on, administrators only, and every change is audited; with it off, the
 * rules of the maintenance endpoints (whoever may pull may list, whoever may delete may delete).
 * Errors: 400 NAME_INVALID / TAG_INVALID, 404 NAME_UNKNOWN / MANIFEST_UNKNOWN, 403 DENIED (an
 * immutable tag), 409 CONFLICT (a namespace that holds repositories, without `force=true`).
 */
export async function handleCatalogApi(ctx: RequestContext, access?: CatalogOptions["access"]): Promise<void> {
  const { req, res, url } = ctx;
  const method = req.method ?? "GET";
  await authorizeMaintenance(ctx, {
    methods: ["GET", "DELETE"],
    action: method === "DELETE" ? "delete" : "pull",
    what: "catalog listings and deletions",
  });
  let parts: string[];
  try {
    parts = url.pathname.slice("/api/v1/".length).split("/").map(decodeURIComponent);
  } catch {
    throw new RegistryError("NAME_INVALID", "the path is not valid percent-encoding", { path: url.pathname });
  }
  const catalog = createCatalog(ctx.registry.stores.metadataStore, {
    events: ctx.registry.events,
    origin: ctx.origin,
    tagRules: ctx.registry.options.tagRules,
    ...(access ? { access } : {}),
  });
  const ok = (body: unknown) => reply(res, 200, {}, body);
  const [top, ...rest] = parts;

  if (top === "namespaces") {
    if (rest.length === 0 && method === "GET") return ok(await catalog.listNamespaces());
    if (rest.length === 1 && method === "DELETE") {
      return ok(await catalog.deleteNamespace(rest[0]!, { force: queryFlag(url, "force") ?? false }));
    }
  }
  if (top === "repositories") {
    if (rest.length === 0 && method === "GET") {
      const namespace = url.searchParams.get("namespace");
      const page = pageParams(url);
      const repositories = catalog.eachRepository({ ...(namespace !== null ? { namespace } : {}), ...(page.last !== undefined ? { after: page.last } : {}) });
      if (page.n === undefined) return replyJsonArray(res, repositories);
      if (page.n === 0) return ok([]);
      const items: RepositoryEntry[] = [];
      for await (const r of repositories) if (items.push(r) > page.n) break;
      const more = items.length > page.n;
      items.length = Math.min(items.length, page.n);
      const next = new URLSearchParams(url.searchParams);
      if (more) next.set("last", items[items.length - 1]!.name);
      return reply(res, 200, more ? { Link: `<${url.pathname}?${next.toString()}>; rel="next"` } : {}, items);
    }
    if (rest.length >= 2 && rest.at(-1) === "tags" && method === "GET") return ok(await catalog.listTags(rest.slice(0, -1).join("/")));
    if (rest.length >= 3 && rest.at(-2) === "tags" && method === "DELETE") {
      return ok(await catalog.deleteTag(rest.slice(0, -2).join("/"), rest.at(-1)!));
    }
    if (rest.length >= 1 && method === "DELETE") return ok(await catalog.deleteRepository(rest.join("/")));
  }
  throw new RegistryError("NOT_FOUND", `no such endpoint: ${method} ${url.pathname}`, { path: url.pathname });
}

/** Whether `handleCatalogApi` answers this request (the rest of /api/v1/ is the admin API's). */
export function isCatalogRequest(method: string | undefined, pathname: string): boolean {
  if (method !== "GET" && method !== "DELETE" && method !== "HEAD") return false;
  if (pathname === "/api/v1/namespaces" || pathname === "/api/v1/repositories") return true;
  if (/^\/api\/v1\/namespaces\/[^/]+$/.test(pathname)) return method === "DELETE";
  return pathname.startsWith("/api/v1/repositories/");
}
