import { RegistryError } from "../../oci/errors.js";
import type { CatalogOptions } from "../../registry/catalog.js";
import type { Role, Visibility } from "../../storage/auth-store.js";
import type { RequestContext } from "../context.js";
import { reply } from "../respond.js";
import { optionalCaller } from "./browse-api.js";

export const BROWSE_NAMESPACES_PATH = "/api/v1/browse/namespaces";

/** One namespace as the repositories page lists it. */
export interface NamespaceView {
  name: string;
  repositories: number;
  /** Bytes its repositories reference (each blob once per repository; as /api/v1/usage counts). */
  size: number;
  quota?: { limit: number; used: number };
  visibility: Visibility;
  owner?: string;
  /** The caller's role in it, when they are a member. */
  role?: Role;
}

/**
 * The namespaces the caller can see, JSON out:
 *
 *   GET /api/v1/browse/namespaces → {items: [{name, repositories, size, quota?: {limit, used}, visibility, owner?, role?}]}
 *
 * By name. Sizes, repository counts and quota use come from the registry's usage summary (the one
 * /api/v1/usage serves, recounted at most once a minute); namespaces declared in access control
 * with no repository yet are listed with zeros. Administrators (and everyone, with access control
 * off, where `visibility` is `public`) see every namespace; others those they are a member of,
 * their own (named after them), public ones, and those holding a repository they may pull: one
 * made public on its own, or the namespace's first repository by name (which is how a
 * config-file policy on `team/*` shows). Anonymous callers get the public ones; credentials
 * that are sent must be valid (401 otherwise).
 */
export async function handleNamespacesBrowse(ctx: RequestContext, access: CatalogOptions["access"]): Promise<void> {
  const { req, res, registry, guard } = ctx;
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new RegistryError("UNSUPPORTED", `method ${req.method} not allowed here`, undefined, { headers: { Allow: "GET, HEAD" } });
  }
  // Anonymous callers may list what is public; bad credentials still fail.
  ctx.caller = await optionalCaller(ctx);
  const summary = await registry.usage.summary();
  const records = access ? await access.store.listNamespaces() : [];
  const byName = new Map<string, NamespaceView>();
  for (const ns of summary.namespaces) {
    byName.set(ns.namespace, {
      name: ns.namespace,
      repositories: ns.repositories,
      size: ns.referencedBytes,
      ...(ns.quota ? { quota: { limit: ns.quota.limit, used: ns.quota.used } } : {}),
      visibility: access?.defaultVisibility ?? "public",
    });
  }
  for (const r of records) {
    const view = byName.get(r.name) ?? { name: r.name, repositories: 0, size: 0, visibility: r.visibility };
    const quota = view.quota ?? quotaOf(ctx, r.name);
    byName.set(r.name, { ...view, ...(quota ? { quota } : {}), visibility: r.visibility, ...(r.owner !== undefined ? { owner: r.owner } : {}) });
  }
  let items = [...byName.values()].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));

  const identity = ctx.caller.identity;
  const everything = !guard.enabled || !access || (identity.kind === "user" && identity.admin);
  if (identity.kind === "user" && access) {
    const roles = new Map((await access.store.rolesOf(identity.name)).map((m) => [m.namespace, m.role]));
    items = items.map((ns) => (roles.has(ns.name) ? { ...ns, role: roles.get(ns.name)! } : ns));
  }
  if (!everything) {
    const publicRepos = new Set((await access.store.listRepositoryVisibilities()).filter((v) => v.visibility === "public").map((v) => v.repository.split("/", 1)[0]!));
    const own = identity.kind === "user" ? identity.name : undefined;
    const visible: NamespaceView[] = [];
    for (const ns of items) {
      if (ns.role !== undefined || ns.name === own || ns.visibility === "public" || publicRepos.has(ns.name) || (await firstPullable(ctx, ns.name))) visible.push(ns);
    }
    items = visible;
  }
  reply(res, 200, { "Cache-Control": "no-store" }, { items });
}

/** A namespace quota of a namespace that holds nothing yet (used 0). */
function quotaOf(ctx: RequestContext, ns: string): { limit: number; used: number } | undefined {
  const rule = ctx.registry.quotas.rulesFor(`${ns}/x`).find((q) => q.kind === "namespace" && q.scope === ns);
  return rule ? { limit: rule.limit, used: 0 } : undefined;
}

async function firstPullable(ctx: RequestContext, ns: string): Promise<boolean> {
  const [first] = await ctx.registry.stores.metadataStore.listRepositorySummaries({ limit: 1 }, ns);
  return first !== undefined && (await ctx.guard.canPull(ctx.caller, first.name));
}
