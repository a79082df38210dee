import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import type { AuthStore, RefreshTokenRecord } from "../storage/auth-store.js";
import type { EventLog, Origin } from "../registry/events.js";
import { parseScopes } from "./scope.js";
import type { Identity } from "./authorizer.js";
import { attemptLogin, isTokenLive, type LoginThrottles } from "./credentials.js";
import { randomSecret } from "./passwords.js";

/** A signed-in browser: who it is, and the token its changes must carry. */
export interface Session {
  id: string;
  identity: Exclude<Identity, { kind: "anonymous" }>;
  /** Sent back by the page in `X-Berth-CSRF` with every change; derived from the cookie's secret, never stored. */
  csrf: string;
  expiresAt: number;
}

/**
 * Browser sign-ins for the web UI. A session is a server-side record (the auth store's refresh
 * token table, client id `berth-ui…`, so every node sees it and a password change or a deleted
 * user ends it) named by the cookie value `<id>.<secret>`. The secret has 256 bits of entropy, so
 * it is stored as a SHA-256 (checked on every request, where scrypt would cost tens of
 * milliseconds); that hash is not the `scrypt$…` the token endpoint accepts, so a session cookie
 * is never a refresh token for /token.
 */
export interface SessionService {
  /**
   * Checks a password (or a robot token, whose session is narrowed to its scopes) under the login
   * throttles, as Basic and /token do; resolves the cookie value and the session, or the refusal.
   * Throws TOOMANYREQUESTS while throttled.
   */
  signIn(attempt: { username: string; password: string; source: string; origin?: Origin }): Promise<{ ok: true; cookie: string; session: Session } | { ok: false; reason: string }>;
  /** The live session a cookie value names: undefined when unknown, revoked, expired, or its user or token is gone. */
  resolve(cookie: string): Promise<Session | undefined>;
  /** Ends the session a cookie value names (sign-out); a no-op when it is not live. */
  signOut(cookie: string): Promise<void>;
}

export const SESSION_CLIENT = "berth-ui";
const TOKEN_CLIENT = `${SESSION_CLIENT} token:`;

const sha256 = (s: string) => `sha256$${createHash("sha256").update(s).digest("hex")}`;
const csrfOf = (secret: string) => createHmac("sha256", secret).update("berth-ui csrf").digest("base64url");

function split(cookie: string): { id: string; secret: string } | undefined {
  const dot = cookie.indexOf(".");
  if (dot <= 0 || dot === cookie.length - 1 || cookie.length > 200) return undefined;
  return { id: cookie.slice(0, dot), secret: cookie.slice(dot + 1) };
}

export function createSessionService(options: { store: AuthStore; throttle: LoginThrottles; ttlMs: number; events?: EventLog }): SessionService {
  const { store, throttle, ttlMs, events } = options;

  async function live(cookie: string): Promise<{ record: RefreshTokenRecord; secret: string } | undefined> {
    const parts = split(cookie);
    if (!parts) return undefined;
    const record = await store.getRefreshToken(parts.id);
    if (!record || !record.clientId.startsWith(SESSION_CLIENT) || record.revokedAt !== undefined || record.expiresAt <= Date.now()) return undefined;
    const expected = Buffer.from(record.secretHash);
    const actual = Buffer.from(sha256(parts.secret));
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
    return { record, secret: parts.secret };
  }

  return {
    async signIn(attempt) {
      const result = await attemptLogin(store, throttle, { ...attempt, via: "session" }, events);
      if (!result.ok) return result;
      const { identity } = result;
      const id = randomUUID();
      const secret = randomSecret();
      const record: RefreshTokenRecord = {
        id,
        user: identity.kind === "user" ? identity.name : identity.owner,
        clientId: identity.kind === "user" ? SESSION_CLIENT : `${TOKEN_CLIENT}${identity.id}`,
        secretHash: sha256(secret),
        createdAt: Date.now(),
        expiresAt: Date.now() + ttlMs,
      };
      await store.createRefreshToken(record);
      return { ok: true, cookie: `${id}.${secret}`, session: { id, identity, csrf: csrfOf(secret), expiresAt: record.expiresAt } };
    },

    async resolve(cookie) {
      const found = await live(cookie);
      if (!found) return undefined;
      const { record, secret } = found;
      const base = { id: record.id, csrf: csrfOf(secret), expiresAt: record.expiresAt };
      const user = await store.getUser(record.user);
      if (!user) return undefined;
      if (!record.clientId.startsWith(TOKEN_CLIENT)) return { ...base, identity: { kind: "user", name: user.name, admin: user.admin } };
      const token = await store.getToken(record.clientId.slice(TOKEN_CLIENT.length));
      if (!token || !isTokenLive(token)) return undefined;
      return { ...base, identity: { kind: "token", id: token.id, owner: token.owner, name: token.name, admin: user.admin, scopes: parseScopes(token.scopes) } };
    },

    async signOut(cookie) {
      const found = await live(cookie);
      if (found) await store.importRefreshToken({ ...found.record, revokedAt: Date.now() });
    },
  };
}
