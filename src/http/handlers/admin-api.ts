import type { Origin } from "../../registry/events.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describeIdentity } from "../../auth/authorizer.js";
import { RegistryError } from "../../oci/errors.js";
import type { AuthServices } from "../../auth/services.js";
import type { Visibility } from "../../storage/auth-store.js";
import type { Guard } from "../guard.js";
import { readJsonObject, reply } from "../respond.js";
import { handleMeApi } from "./me-api.js";
import { handleOwnerApi } from "./owner-api.js";
import { handleRunsApi } from "./runs-api.js";

/**
 * The management API, admin only (but /api/v1/me/…, me-api.ts, for every user, and the members
 * and visibility endpoints for namespace owners, owner-api.ts), JSON in and out:
 *
 *   GET    /api/v1/users                          POST /api/v1/users {name, password, admin}
 *   DELETE /api/v1/users/<name>                   PUT  /api/v1/users/<name>/password {password}
 *   GET    /api/v1/tokens[?user=]                 POST /api/v1/tokens {name, user, scopes, expiresAt}
 *   DELETE /api/v1/tokens/<owner>/<name>
 *                                                 PUT  /api/v1/namespaces/<ns> {visibility, owner}
 *   GET    /api/v1/namespaces/<ns>/members        PUT  /api/v1/namespaces/<ns>/members/<user> {role}
 *   DELETE /api/v1/namespaces/<ns>/members/<user>
 *   PUT    /api/v1/repositories/<name>/visibility {visibility: public|private|inherit}
 *   GET    /api/v1/audit?user=&repo=&action=&since=&until=&limit=
 *   GET    /api/v1/runs?kind=gc|retention&limit=  (runs-api.ts)
 *
 * Listing namespaces and repositories and deleting them is catalog-api.ts, routed before this.
 */
export function createAdminApi(services: AuthServices, guard: Guard) {
  const { store } = services;
  return async (req: IncomingMessage, res: ServerResponse, url: URL, origin: Origin): Promise<void> => {
    const caller = await guard.check(req, { actions: [] });
    const parts = url.pathname.slice("/api/v1/".length).split("/").map(decodeURIComponent);
    if (parts[0] === "me") return handleMeApi(services, caller.identity, parts, req, res, origin);
    if (caller.identity.kind !== "user" || !caller.identity.admin) {
      if (await handleOwnerApi(services, caller.identity, parts, req, res, origin)) return;
      throw new RegistryError("DENIED", "the management API is for administrators");
    }
    if (parts[0] === "runs" && parts.length === 1 && req.method === "GET") return handleRunsApi(store, url, res);
    const ops = services.adminOps({ name: describeIdentity(caller.identity)!, origin });
    const method = req.method ?? "GET";
    const json = () => readJsonObject(req);
    const text = (v: unknown) => (typeof v === "string" ? v : "");
    const ok = (body: unknown = { ok: true }, status = 200) => reply(res, status, {}, body);
    const [top, a, b, c] = parts;
    if (top === "users" && !a && method === "GET") return ok((await store.listUsers()).map((u) => ({ name: u.name, admin: u.admin, createdAt: u.createdAt })));
    if (top === "users" && !a && method === "POST") {
      const body = await json();
      await ops.addUser(text(body.name), text(body.password), body.admin === true);
      return ok({ name: body.name }, 201);
    }
    if (top === "users" && a && !b && method === "DELETE") return ok(await ops.deleteUser(a));
    if (top === "users" && a && b === "password" && method === "PUT") return ok(await ops.setPassword(a, text((await json()).password)));
    if (top === "tokens" && !a && method === "GET") {
      const tokens = await store.listTokens(url.searchParams.get("user") ?? undefined);
      return ok(tokens.map(({ secretHash: _, id: __, ...t }) => t));
    }
    if (top === "tokens" && !a && method === "POST") {
      const body = await json();
      const scopes = Array.isArray(body.scopes) ? body.scopes.filter((s): s is string => typeof s === "string") : [];
      const expiresAt = typeof body.expiresAt === "number" ? body.expiresAt : undefined;
      return ok({ token: await ops.createToken(text(body.user), text(body.name), scopes, expiresAt) }, 201);
    }
    if (top === "tokens" && a && b && method === "DELETE") return ok(await ops.revokeToken(a, b));
    if (top === "namespaces" && a && !b && method === "PUT") {
      const body = await json();
      const owner = text(body.owner) || undefined;
      return ok(await ops.putNamespace(a, body.visibility === "public" ? "public" : "private", owner));
    }
    if (top === "namespaces" && a && b === "members" && !c && method === "GET") return ok(await store.listMembers(a));
    if (top === "namespaces" && a && b === "members" && c && method === "PUT") return ok(await ops.setMember(a, c, text((await json()).role)));
    if (top === "namespaces" && a && b === "members" && c && method === "DELETE") return ok(await ops.removeMember(a, c));
    if (top === "repositories" && parts.length >= 3 && parts[parts.length - 1] === "visibility" && method === "PUT") {
      const repo = parts.slice(1, -1).join("/");
      const visibility = text((await json()).visibility);
      if (!["public", "private", "inherit"].includes(visibility)) throw new RegistryError("INVALID", "visibility must be public, private or inherit");
      return ok(await ops.setVisibility(repo, visibility as Visibility | "inherit"));
    }
    if (top === "audit" && method === "GET") {
      const q = url.searchParams;
      const time = (v: string | null) => (v === null || Number.isNaN(Date.parse(v)) ? undefined : Date.parse(v));
      const since = time(q.get("since"));
      const until = time(q.get("until"));
      return ok(
        await store.queryAudit({
          limit: Math.min(Number(q.get("limit") ?? 100) || 100, 10_000),
          ...(q.get("user") ? { actor: q.get("user")! } : {}),
          ...(q.get("repo") ? { repository: q.get("repo")! } : {}),
          ...(q.get("action") ? { action: q.get("action")! } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
        }),
      );
    }
    throw new RegistryError("NOT_FOUND", `no such endpoint: ${method} ${url.pathname}`);
  };
}
