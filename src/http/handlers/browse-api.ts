import { RegistryError } from "../../oci/errors.js";
import { isValidName } from "../../oci/reference.js";
import { manifestKind } from "../../oci/media-types.js";
import { namespaceOf } from "../../auth/authorizer.js";
import type { Action } from "../../auth/scope.js";
import type { SupplyLookup } from "../../registry/browse.js";
import type { RepositoryStats } from "../../storage/browse-store.js";
import type { AuthStore, Visibility } from "../../storage/auth-store.js";
import type { SupplyChain } from "../../supply/supply-chain.js";
import type { RequestContext } from "../context.js";
import type { Caller } from "../guard.js";
import { reply } from "../respond.js";
import { queryFlag } from "./maintenance-access.js";

export const BROWSE_PREFIX = "/api/v1/browse/";
const REPOSITORIES = `${BROWSE_PREFIX}repositories`;

/** What the browse API reads besides the registry: access control's visibility records, the supply chain. */
export interface BrowseApiOptions {
  access?: { store: AuthStore; defaultVisibility: Visibility };
  supply?: SupplyChain;
}

/**
 * The web UI's repository list and repository page (registry/browse.ts), JSON out:
 *
 *   GET /api/v1/browse/repositories[?q=&sort=name|pushed|size&order=asc|desc&n=&cursor=]
 *       → {items: [{name, namespace, tags, manifests, size, pushedAt|null, visibility}], next?, total?}
 *   GET /api/v1/browse/repositories/<name>/info
 *       → {name, namespace, visibility, tags, manifests, size, pushedAt|null, permissions: {pull, push, delete},
 *          immutableTags: [pattern], quota?: {limit, used, scope}}
 *   GET /api/v1/browse/repositories/<name>/tags[?sort=pushed|name&order=&q=&n=&cursor=]
 *       → {items: [{tag, digest, mediaType, artifactType?, size, platforms, pushedAt, pulledAt|null, pulls,
 *          immutable, supply?: {signature, vulnerabilities: {critical, high, medium, low}|null, sbom}}], next?, total}
 *   GET /api/v1/browse/repositories/<name>/tags?untagged=true[&n=&cursor=]
 *       → {items: [{digest, mediaType, artifactType?, size, platforms, pushedAt}], next?}
 *
 * `n`: 1 to 500, 50 by default; `cursor`: a previous page's `next` (same sort and order). The
 * repository list defaults to `sort=name&order=asc`, tags to `sort=pushed&order=desc`; `q` is a
 * case-insensitive substring of the name (tag). Sizes are bytes, times epoch ms. `<name>` may
 * span several path segments (a name whose second-to-last segment is `manifests` is the artifact
 * endpoint's). Who may pull a repository may read its routes; the list holds the repositories the
 * caller may pull (anonymous callers included; every one for administrators and with access
 * control off, which alone get `total`; a caller who may pull few of many may get a short page
 * with a `next`). `permissions` is what the caller may do, `delete` being the manifest delete.
 * Errors: 400 INVALID (a parameter) / NAME_INVALID, 401/403 (the repository routes), 404 NAME_UNKNOWN.
 */
export async function handleBrowseApi(ctx: RequestContext, options: BrowseApiOptions = {}): Promise<void> {
  const { req, res, url, registry, guard } = ctx;
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new RegistryError("UNSUPPORTED", `method ${req.method} not allowed here`, undefined, { headers: { Allow: "GET, HEAD" } });
  }
  const visibilityOf = await visibilities(options.access);
  const n = intParam(url, "n", 50, 1, 500);
  const q = url.searchParams.get("q") ?? undefined;
  if (q !== undefined && q.length > 256) throw new RegistryError("INVALID", "q is longer than 256 characters", { q: q.slice(0, 32) });
  const cursor = url.searchParams.get("cursor") ?? undefined;

  if (url.pathname === REPOSITORIES) {
    ctx.caller = await optionalCaller(ctx);
    const sort = oneOf(url, "sort", ["name", "pushed", "size"] as const, "name");
    const order = oneOf(url, "order", ["asc", "desc"] as const, sort === "name" ? "asc" : "desc");
    const seesAll = !guard.enabled || (ctx.caller.identity.kind === "user" && ctx.caller.identity.admin);
    const caller = ctx.caller;
    const page = await registry.browse.listRepositories(
      { sort, order, n, ...(q ? { q } : {}), ...(cursor !== undefined ? { cursor } : {}) },
      seesAll ? undefined : (name) => guard.canPull(caller, name),
    );
    return reply(res, 200, {}, { ...page, items: page.items.map((r) => repositoryJson(r, visibilityOf(r.name))) });
  }

  const { name, what } = parseRepositoryPath(url.pathname);
  ctx.caller = await guard.check(req, { repository: name, actions: ["pull"] }, ctx.origin);
  if (what === "info") {
    const info = await registry.browse.repository(name);
    const permissions = { pull: true, push: await may(ctx, name, "push"), delete: await may(ctx, name, "delete") };
    return reply(res, 200, {}, { ...repositoryJson(info, visibilityOf(name)), permissions, immutableTags: info.immutableTags, ...(info.quota ? { quota: info.quota } : {}) });
  }
  if (queryFlag(url, "untagged")) {
    return reply(res, 200, {}, await registry.browse.listUntagged(name, { n, ...(cursor !== undefined ? { cursor } : {}) }));
  }
  const sort = oneOf(url, "sort", ["pushed", "name"] as const, "pushed");
  const order = oneOf(url, "order", ["asc", "desc"] as const, sort === "name" ? "asc" : "desc");
  const query = { sort, order, n, ...(q ? { q } : {}), ...(cursor !== undefined ? { cursor } : {}) };
  return reply(res, 200, {}, await registry.browse.listTags(name, query, options.supply ? supplyLookup(options.supply) : undefined));
}

/** Whether `handleBrowseApi` answers this path: the repository list, and a repository's `info` and `tags`. */
export function isBrowseRequest(pathname: string): boolean {
  if (pathname === REPOSITORIES) return true;
  if (!pathname.startsWith(`${REPOSITORIES}/`) || /\/manifests\/[^/]+$/.test(pathname)) return false;
  return /\/[^/]+\/(info|tags)$/.test(pathname.slice(REPOSITORIES.length));
}

function parseRepositoryPath(pathname: string): { name: string; what: "info" | "tags" } {
  const rest = pathname.slice(REPOSITORIES.length + 1);
  const cut = rest.lastIndexOf("/");
  let name: string;
  try {
    name = decodeURIComponent(rest.slice(0, cut));
  } catch {
    throw new RegistryError("NAME_INVALID", "the path is not valid percent-encoding", { path: pathname });
  }
  if (!isValidName(name)) throw new RegistryError("NAME_INVALID", `invalid repository name ${JSON.stringify(name)}`, { name });
  return { name, what: rest.slice(cut + 1) as "info" | "tags" };
}

/** The caller, or anonymous when the request carries no credentials at all (the list is open to anyone). */
export async function optionalCaller(ctx: RequestContext): Promise<Caller> {
  try {
    return await ctx.guard.check(ctx.req, { actions: [] }, ctx.origin);
  } catch (err) {
    if (err instanceof RegistryError && err.code === "UNAUTHORIZED" && ctx.req.headers.authorization === undefined) return { identity: { kind: "anonymous" } };
    throw err;
  }
}

async function may(ctx: RequestContext, repository: string, action: Action): Promise<boolean> {
  try {
    await ctx.guard.check(ctx.req, { repository, actions: [action] }, ctx.origin);
    return true;
  } catch (err) {
    if (err instanceof RegistryError && (err.code === "DENIED" || err.code === "UNAUTHORIZED")) return false;
    throw err;
  }
}

/** Each repository's visibility as access control decides it; `public` without access control (anyone may pull). */
async function visibilities(access: BrowseApiOptions["access"]): Promise<(name: string) => Visibility> {
  if (!access) return () => "public";
  const [overrides, namespaces] = await Promise.all([access.store.listRepositoryVisibilities(), access.store.listNamespaces()]);
  const byRepository = new Map(overrides.map((v) => [v.repository, v.visibility]));
  const byNamespace = new Map(namespaces.map((ns) => [ns.name, ns.visibility]));
  return (name) => byRepository.get(name) ?? byNamespace.get(namespaceOf(name)) ?? access.defaultVisibility;
}

function repositoryJson(r: RepositoryStats, visibility: Visibility) {
  return { name: r.name, namespace: namespaceOf(r.name), tags: r.tags, manifests: r.manifests, size: r.size, pushedAt: r.pushedAt ?? null, visibility };
}

function supplyLookup(supply: SupplyChain): SupplyLookup {
  return async (repo, manifest) => {
    const image = manifestKind(manifest.mediaType) === "image";
    const [signature, sbom] = await Promise.all([
      supply.signatures.status(repo, manifest.digest),
      image ? supply.sboms.report(repo, manifest.digest) : undefined,
    ]);
    // Vulnerabilities are matched from the SBOM: without one there is nothing to ask.
    const vulns = sbom?.status === "ready" ? await supply.vulnerabilities.report(repo, manifest.digest) : undefined;
    const { critical, high, medium, low } = vulns?.counts ?? { critical: 0, high: 0, medium: 0, low: 0 };
    return {
      // Without a policy nothing verifies signatures, so "unsigned" would be a guess.
      signature: signature.policy === null || signature.mode === "off" ? "unchecked" : signature.state,
      vulnerabilities: vulns?.status === "scanned" ? { critical, high, medium, low } : null,
      sbom: sbom?.status === "ready",
    };
  };
}

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const v = url.searchParams.get(name);
  if (v === null) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new RegistryError("INVALID", `${name} must be a whole number from ${min} to ${max}`, { [name]: v });
  }
  return Number(v);
}

function oneOf<T extends string>(url: URL, name: string, allowed: readonly T[], fallback: T): T {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new RegistryError("INVALID", `${name} must be one of ${allowed.join(", ")}`, { [name]: v });
  return v as T;
}
