import type { AuthServices } from "../../auth/services.js";
import { RegistryError } from "../../oci/errors.js";
import type { RequestContext } from "../context.js";
import { readJsonObject, reply } from "../respond.js";
import { checkCsrf, isSecureRequest, sessionCookieHeader, sessionCookieOf } from "../session-cookie.js";

export const SESSION_PATH = "/api/v1/session";

/**
 * The web UI's sign-in, JSON in and out:
 *
 *   GET    /api/v1/session                        → {authEnabled, user, admin, kind, csrf, roles: [{namespace, role}], expiresAt?}
 *   POST   /api/v1/session {username, password}   → 201, the same, and the session cookie
 *   DELETE /api/v1/session                        → {ok: true}, the cookie cleared (needs X-Berth-CSRF)
 *
 * GET answers 200 signed in or not (`user: null`); without access control `authEnabled` is false
 * and there is nothing to sign in to (POST answers 404). The password may be a robot token; a
 * token's session can do what the token can. Wrong credentials: 401 UNAUTHORIZED; too many: 429
 * TOOMANYREQUESTS with Retry-After (the login throttle of Basic and /token). The cookie is
 * `HttpOnly; SameSite=Strict`, `Secure` when the request came over TLS (to Berth or its proxy).
 */
export async function handleSessionApi(ctx: RequestContext, services: AuthServices | undefined, tls: boolean): Promise<void> {
  const { req, res } = ctx;
  const method = req.method ?? "GET";
  if (!["GET", "HEAD", "POST", "DELETE"].includes(method)) {
    throw new RegistryError("UNSUPPORTED", `method ${method} not allowed here`, undefined, { headers: { Allow: "GET, HEAD, POST, DELETE" } });
  }
  if (!services) {
    if (method === "POST" || method === "DELETE") throw new RegistryError("NOT_FOUND", "access control is off: there is nothing to sign in to");
    return reply(res, 200, {}, { authEnabled: false, user: null, admin: false, kind: null, csrf: null, roles: [] });
  }
  const { sessions, store } = services;
  const secure = isSecureRequest(req, tls);
  const describe = async (session: Awaited<ReturnType<typeof sessions.resolve>>) => {
    if (!session) return { authEnabled: true, user: null, admin: false, kind: null, csrf: null, roles: [] };
    const { identity } = session;
    const user = identity.kind === "user" ? identity.name : identity.owner;
    return {
      authEnabled: true,
      user,
      admin: identity.admin,
      kind: identity.kind,
      ...(identity.kind === "token" ? { token: identity.name } : {}),
      csrf: session.csrf,
      roles: await store.rolesOf(user),
      expiresAt: session.expiresAt,
    };
  };
  const cookie = sessionCookieOf(req);
  if (method === "GET" || method === "HEAD") {
    const session = cookie !== undefined ? await sessions.resolve(cookie) : undefined;
    return reply(res, 200, { "Cache-Control": "no-store" }, await describe(session));
  }
  if (method === "DELETE") {
    const session = cookie !== undefined ? await sessions.resolve(cookie) : undefined;
    if (session) {
      checkCsrf(req, session);
      await sessions.signOut(cookie!);
    }
    return reply(res, 200, { "Set-Cookie": sessionCookieHeader(secure) }, { ok: true });
  }
  const body = await readJsonObject(req);
  const username = typeof body.username === "string" ? body.username : "";
  const password = typeof body.password === "string" ? body.password : "";
  if (!username || !password) throw new RegistryError("INVALID", "give username and password");
  const result = await sessions.signIn({ username, password, source: req.socket.remoteAddress ?? "unknown", origin: ctx.origin });
  if (!result.ok) throw new RegistryError("UNAUTHORIZED", "invalid username or password");
  // An older session of this browser ends with the new one.
  if (cookie !== undefined) await sessions.signOut(cookie);
  reply(res, 201, { "Set-Cookie": sessionCookieHeader(secure, { cookie: result.cookie, expiresAt: result.session.expiresAt }), "Cache-Control": "no-store" }, await describe(result.session));
}
