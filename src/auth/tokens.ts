import { randomUUID } from "node:crypto";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTPayload,
} from "jose";
import type { AuthStore, SigningKeyRecord } from "../storage/auth-store.js";
import type { Access } from "./scope.js";

/**
 * Short-lived bearer tokens in the Docker token format: JWTs signed with a key Berth keeps in its
 * AuthStore (so every node signs and verifies with the same keys), with a `kid` so keys can be
 * rotated while tokens signed by the previous key stay valid until they expire.
 */
export interface TokenService {
  /**
   * Signs a token for `subject` (undefined for anonymous) granting `access`. `principal` is kept
   * in the token (claim `berth`) so the registry knows who it serves without asking again.
   */
  issue(subject: string | undefined, access: Access[], principal?: Principal): Promise<IssuedToken>;
  /** Verifies signature, algorithm, issuer, audience and lifetime; undefined when any check fails. */
  verify(token: string): Promise<VerifiedToken | undefined>;
  /** The public keys, for other services to verify Berth's tokens. */
  jwks(): Promise<{ keys: JWK[] }>;
  /** Adds a new signing key and retires the current one (which keeps verifying). Resolves the new kid. */
  rotate(): Promise<string>;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
}

export interface VerifiedToken {
  subject?: string;
  access: Access[];
  principal?: Principal;
}

/** Who a token was issued to: a user, or a robot token by id (its scopes are looked up again). */
export type Principal = { kind: "user"; name: string; admin: boolean } | { kind: "token"; id: string };

export interface TokenServiceOptions {
  store: AuthStore;
  /** `iss` of every token. */
  issuer: string;
  /** `aud`: the registry's service name, as in the `WWW-Authenticate` challenge. */
  service: string;
  /** Lifetime in seconds; never below 60. */
  ttlSeconds: number;
  /** How long a cached key set is trusted before the store is read again (ms). */
  keyCacheMs?: number;
}

const ALGORITHMS = ["ES256", "RS256"];

async function newKey(): Promise<SigningKeyRecord> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    algorithm: "ES256",
    privateJwk: JSON.stringify({ ...privateJwk, kid, alg: "ES256" }),
    publicJwk: JSON.stringify({ ...publicJwk, kid, alg: "ES256", use: "sig" }),
    createdAt: Date.now(),
  };
}

export function createTokenService({ store, issuer, service, ttlSeconds, keyCacheMs = 30_000 }: TokenServiceOptions): TokenService {
  const ttl = Math.max(60, Math.floor(ttlSeconds));
  let cache: { keys: SigningKeyRecord[]; loadedAt: number } | undefined;

  async function keys(force = false): Promise<SigningKeyRecord[]> {
    if (!force && cache && Date.now() - cache.loadedAt < keyCacheMs) return cache.keys;
    let list = await store.listSigningKeys();
    if (!list.some((k) => k.retiredAt === undefined)) {
      await store.addSigningKey(await newKey());
      list = await store.listSigningKeys();
    }
    cache = { keys: list, loadedAt: Date.now() };
    return list;
  }

  return {
    async issue(subject, access, principal) {
      const key = (await keys()).find((k) => k.retiredAt === undefined)!;
      const now = Math.floor(Date.now() / 1000);
      const claims: JWTPayload = { access: access.map((a) => ({ type: a.type, name: a.name, actions: a.actions })) };
      if (principal) claims.berth = principal;
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: "JWT" })
        .setIssuer(issuer)
        .setAudience(service)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + ttl)
        .setJti(randomUUID());
      if (subject !== undefined) jwt.setSubject(subject);
      const token = await jwt.sign(await importJWK(JSON.parse(key.privateJwk) as JWK, key.algorithm));
      return { token, expiresIn: ttl, issuedAt: new Date(now * 1000).toISOString() };
    },

    async verify(token) {
      try {
        const { payload } = await jwtVerify(
          token,
          async (header) => {
            let key = (await keys()).find((k) => k.kid === header.kid);
            if (!key) key = (await keys(true)).find((k) => k.kid === header.kid);
            if (!key || key.algorithm !== header.alg) throw new Error("unknown signing key");
            return importJWK(JSON.parse(key.publicJwk) as JWK, key.algorithm);
          },
          { issuer, audience: service, algorithms: ALGORITHMS, clockTolerance: 5 },
        );
        const principal = principalClaim(payload);
        return {
          ...(payload.sub !== undefined ? { subject: payload.sub } : {}),
          access: accessClaim(payload),
          ...(principal ? { principal } : {}),
        };
      } catch {
        return undefined;
      }
    },

    async jwks() {
      return { keys: (await keys()).map((k) => JSON.parse(k.publicJwk) as JWK) };
    },

    async rotate() {
      const current = (await keys(true)).filter((k) => k.retiredAt === undefined);
      const key = await newKey();
      await store.addSigningKey(key);
      for (const old of current) await store.retireSigningKey(old.kid, Date.now());
      await keys(true);
      return key.kid;
    },
  };
}

function accessClaim(payload: JWTPayload): Access[] {
  const access = payload.access;
  if (!Array.isArray(access)) return [];
  return access.flatMap((entry: unknown) => {
    const e = entry as { type?: unknown; name?: unknown; actions?: unknown };
    if ((e.type !== "repository" && e.type !== "registry") || typeof e.name !== "string" || !Array.isArray(e.actions)) return [];
    return [{ type: e.type, name: e.name, actions: e.actions.filter((a): a is string => typeof a === "string") }];
  });
}

function principalClaim(payload: JWTPayload): Principal | undefined {
  const p = payload.berth as { kind?: unknown; name?: unknown; admin?: unknown; id?: unknown } | undefined;
  if (p?.kind === "user" && typeof p.name === "string") return { kind: "user", name: p.name, admin: p.admin === true };
  if (p?.kind === "token" && typeof p.id === "string") return { kind: "token", id: p.id };
  return undefined;
}
