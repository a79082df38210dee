import { RegistryError } from "../oci/errors.js";
import type { AuthStore, TokenRecord } from "../storage/auth-store.js";
import { describeIdentity, type Identity } from "./authorizer.js";
import type { EventLog, Origin } from "../registry/events.js";
import { hashSecret, randomSecret, verifySecret } from "./passwords.js";
import { parseScopes } from "./scope.js";

/** Robot token secrets look like `berth_<id>_<secret>`: the id finds the record, the rest is checked against its hash. */
const TOKEN_RE = /^berth_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{20,})$/;

export interface NewRobotToken {
  id: string;
  /** Shown once; only its hash is stored. */
  secret: string;
  secretHash: string;
}

export async function newRobotToken(): Promise<NewRobotToken> {
  const id = randomSecret(16).replace(/[^A-Za-z0-9]/g, "").slice(0, 12).padEnd(12, "0");
  const body = randomSecret(32);
  const secret = `berth_${id}_${body}`;
  return { id, secret, secretHash: await hashSecret(secret) };
}

/** Whether a robot token may still be used: not revoked, not expired. */
export function isTokenLive(token: Pick<TokenRecord, "revokedAt" | "expiresAt">, now = Date.now()): boolean {
  return token.revokedAt === undefined && (token.expiresAt === undefined || token.expiresAt > now);
}

export type LoginResult = { ok: true; identity: Exclude<Identity, { kind: "anonymous" }> } | { ok: false; reason: string };

/**
 * Checks a username and password, where the password may be a robot token (then the username
 * must be the token's owner or its name). Revoked and expired tokens and deleted users fail.
 */
export async function checkLogin(store: AuthStore, username: string, password: string, now = Date.now()): Promise<LoginResult> {
  const robot = TOKEN_RE.exec(password);
  if (robot) {
    const token = await store.getToken(robot[1]!);
    if (!token || !(await verifySecret(password, token.secretHash))) return { ok: false, reason: "invalid token" };
    if (token.revokedAt !== undefined) return { ok: false, reason: "token revoked" };
    if (token.expiresAt !== undefined && token.expiresAt <= now) return { ok: false, reason: "token expired" };
    if (username !== token.owner && username !== token.name) return { ok: false, reason: "token does not belong to this user" };
    const owner = await store.getUser(token.owner);
    if (!owner) return { ok: false, reason: "token owner no longer exists" };
    await store.touchToken(token.id, now);
    return {
      ok: true,
      identity: { kind: "token", id: token.id, owner: token.owner, name: token.name, admin: owner.admin, scopes: parseScopes(token.scopes) },
    };
  }
  const user = await store.getUser(username);
  // Hash anyway for unknown users, so timing does not tell which names exist.
  const valid = await verifySecret(password, user?.passwordHash ?? DUMMY_HASH);
  if (!user || !valid) return { ok: false, reason: "invalid username or password" };
  return { ok: true, identity: { kind: "user", name: user.name, admin: user.admin } };
}

const DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/** Parses `Authorization: Basic …`; undefined when absent or malformed. */
export function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Slows down password guessing without locking real users out for good: after `free` failures
 * within `windowMs` for a key (a user at a source address, or a source address), further
 * attempts are refused until the window has passed since the latest failure. Keys include the
 * source address, so guessing from one place never locks the user out elsewhere.
 */
export interface LoginThrottle {
  /** Milliseconds to wait before another attempt is allowed for these keys; 0 when allowed now. */
  retryAfter(keys: string[], now?: number): number;
  fail(keys: string[], now?: number): void;
  succeed(keys: string[]): void;
}

export function createLoginThrottle(free = 5, windowMs = 60_000, maxEntries = 100_000): LoginThrottle {
  const failures = new Map<string, { count: number; last: number }>();
  return {
    retryAfter(keys, now = Date.now()) {
      let wait = 0;
      for (const key of keys) {
        const f = failures.get(key);
        if (!f) continue;
        if (now - f.last >= windowMs) {
          failures.delete(key);
          continue;
        }
        if (f.count >= free) wait = Math.max(wait, f.last + windowMs - now);
      }
      return wait;
    },
    fail(keys, now = Date.now()) {
      for (const key of keys) {
        const f = failures.get(key);
        const count = f && now - f.last < windowMs ? f.count + 1 : 1;
        failures.delete(key);
        if (failures.size >= maxEntries) failures.delete(failures.keys().next().value!);
        failures.set(key, { count, last: now });
      }
    },
    succeed(keys) {
      for (const key of keys) failures.delete(key);
    },
  };
}

/** Failed logins per user at a source address (a few), and per source address (many: NAT). */
export interface LoginThrottles {
  user: LoginThrottle;
  address: LoginThrottle;
}

export function createLoginThrottles(): LoginThrottles {
  return { user: createLoginThrottle(5, 60_000), address: createLoginThrottle(50, 60_000) };
}

export interface LoginAttempt {
  username: string;
  password: string;
  /** The caller's address, one of the throttle's keys. */
  source: string;
  via: LoginVia;
  /** The request it came with, for the `auth.login` event. */
  origin?: Origin;
}

/** Where the credentials came in: the token endpoint (`token`, `refresh` for a refresh token), Basic on /v2/ (`basic`) or the web UI's sign-in (`session`). */
export type LoginVia = "token" | "refresh" | "basic" | "session";

/**
 * How a password check ended: `success`, `failure` (wrong password, unknown user, revoked or
 * expired robot token, bad refresh token), or `throttled` (refused unchecked by the login throttle).
 */
export type LoginOutcome = "success" | "failure" | "throttled";

/**
 * Records one credential check as an `auth.login` event (metrics count them all; the audit log
 * keeps the token endpoint's): who tried, how, and how it ended.
 */
export async function recordLogin(events: EventLog | undefined, who: string, via: LoginVia, outcome: LoginOutcome, reason?: string, origin?: Origin): Promise<void> {
  if (!events) return;
  const result = outcome === "success" ? "ok" : outcome === "throttled" ? "denied" : "failed";
  await events.emit([events.event("auth.login", { actor: who, result, detail: { via, outcome, ...(reason !== undefined ? { reason } : {}) } }, origin)]);
}

/**
 * One password check under the throttles, the same for Basic on /v2/ and the token endpoint:
 * refused unchecked (TOOMANYREQUESTS with Retry-After) while the user at this address, or the
 * address, has failed too often; otherwise checked and counted. Each check is an `auth.login` event.
 */
export async function attemptLogin(store: AuthStore, throttle: LoginThrottles, attempt: LoginAttempt, events?: EventLog): Promise<LoginResult> {
  const userKey = [`${attempt.username}@${attempt.source}`];
  const addressKey = [attempt.source];
  const wait = Math.max(throttle.user.retryAfter(userKey), throttle.address.retryAfter(addressKey));
  if (wait > 0) {
    await recordLogin(events, attempt.username, attempt.via, "throttled", undefined, attempt.origin);
    throw new RegistryError("TOOMANYREQUESTS", "too many failed logins; try again later", undefined, {
      headers: { "Retry-After": String(Math.ceil(wait / 1000)) },
    });
  }
  const result = await checkLogin(store, attempt.username, attempt.password);
  if (result.ok) {
    throttle.user.succeed(userKey);
    await recordLogin(events, describeIdentity(result.identity) ?? attempt.username, attempt.via, "success", undefined, attempt.origin);
  } else {
    throttle.user.fail(userKey);
    throttle.address.fail(addressKey);
    await recordLogin(events, attempt.username, attempt.via, "failure", result.reason, attempt.origin);
  }
  return result;
}
