import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthServices } from "../../auth/services.js";
import { parseScope } from "../../auth/scope.js";
import type { Identity } from "../../auth/authorizer.js";
import { RegistryError } from "../../oci/errors.js";
import type { Origin } from "../../registry/events.js";
import { readJsonObject, reply } from "../respond.js";

/**
 * A signed-in user's own robot tokens, JSON in and out:
 *
 *   GET    /api/v1/me/tokens          → {items: [{name, owner, scopes, createdAt, expiresAt?, revokedAt?, lastUsedAt?}]}
 *   POST   /api/v1/me/tokens {name, scopes: ["repository:team/*:pull", …], expiresAt?: epoch ms}  → 201 {token} (shown once)
 *   DELETE /api/v1/me/tokens/<name>   → {ok: true}
 *
 * Any user may manage their own tokens (password, session or a bearer token issued to them); the
 * changes are audited as `token.create` / `token.revoke` with the user as the actor, as the admin
 * API's are. A token can do at most what its owner may, narrowed to its scopes (auth/authorizer.ts),
 * so a reader's token with `push` in its scopes still cannot push. A robot token cannot mint or
 * revoke tokens (403 DENIED), nor can an anonymous caller (401). Errors: 400 INVALID (a bad name,
 * no scopes or a malformed one, a bad expiry), 404 NOT_FOUND (no live token of that name), 409
 * CONFLICT (a live token of that name exists).
 */
export async function handleMeApi(
  services: AuthServices,
  identity: Identity,
  parts: readonly string[],
  req: IncomingMessage,
  res: ServerResponse,
  origin: Origin,
): Promise<void> {
  if (identity.kind !== "user") throw new RegistryError("DENIED", "robot tokens cannot manage tokens: sign in as their owner");
  const method = req.method ?? "GET";
  const [, what, name, ...extra] = parts;
  if (what !== "tokens" || extra.length > 0) throw new RegistryError("NOT_FOUND", `no such endpoint: ${method} /api/v1/${parts.join("/")}`);
  const ops = services.adminOps({ name: identity.name, origin });
  if (name === undefined && (method === "GET" || method === "HEAD")) {
    const tokens = await services.store.listTokens(identity.name);
    return reply(res, 200, { "Cache-Control": "no-store" }, { items: tokens.map(({ secretHash: _, id: __, ...t }) => t) });
  }
  if (name === undefined && method === "POST") {
    const body = await readJsonObject(req, "{name, scopes, expiresAt?}");
    const scopes = Array.isArray(body.scopes) ? body.scopes : [];
    const bad = scopes.find((s) => typeof s !== "string" || parseScope(s) === undefined);
    if (bad !== undefined) throw new RegistryError("INVALID", `not a scope: ${JSON.stringify(bad)} (e.g. repository:team/*:pull,push)`);
    const { expiresAt } = body;
    if (expiresAt !== undefined && (typeof expiresAt !== "number" || !Number.isSafeInteger(expiresAt) || expiresAt <= Date.now())) {
      throw new RegistryError("INVALID", "expiresAt must be a time in the future, in epoch milliseconds");
    }
    const token = await ops.createToken(identity.name, typeof body.name === "string" ? body.name : "", scopes as string[], expiresAt as number | undefined);
    return reply(res, 201, { "Cache-Control": "no-store" }, { token });
  }
  if (name !== undefined && method === "DELETE") {
    await ops.revokeToken(identity.name, name);
    return reply(res, 200, {}, { ok: true });
  }
  throw new RegistryError("NOT_FOUND", `no such endpoint: ${method} /api/v1/${parts.join("/")}`);
}
