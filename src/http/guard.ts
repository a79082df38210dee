import type { IncomingMessage } from "node:http";
import { createHash } from "node:crypto";
import { RegistryError } from "../oci/errors.js";
import { createAuthorizer, type Authorizer, type ConfigPolicy, type Identity } from "../auth/authorizer.js";
import { attemptLogin, isTokenLive, parseBasic, type LoginThrottles } from "../auth/credentials.js";
import { coversAction, parseScopes, type Action } from "../auth/scope.js";
import type { TokenService, VerifiedToken } from "../auth/tokens.js";
import type { AuthStore } from "../storage/auth-store.js";
import type { EventLog, Origin } from "../registry/events.js";
import type { Session, SessionService } from "../auth/sessions.js";
import { checkCsrf, sessionCookieOf } from "./session-cookie.js";

/** What a request needs: actions on a repository, or the catalog, or (neither) just a valid login. */
export interface Need {
  repository?: string;
  actions: Action[];
  /**
   * Another set of actions that is enough on its own (untagging: `delete`, as distribution asks,
   * or pull and push, since a pusher may re-point the tag anyway). The challenge names `actions`.
   */
  orActions?: Action[];
  catalog?: boolean;
}

export interface Caller {
  identity: Identity;
  /** Set when the request carried a bearer token: its grants are what the request may do. */
  token?: VerifiedToken;
  /** Set when the request came from a signed-in browser (the web UI's session cookie). */
  session?: Session;
}

/** Decides, per request, whether it may proceed; throws UNAUTHORIZED (with the challenge) or DENIED. */
export interface Guard {
  readonly enabled: boolean;
  /** `origin`: the request, for the events of a password check. */
  check(req: IncomingMessage, need: Need, origin?: Origin): Promise<Caller>;
  /** Whether `caller` may pull `repository`, by who they are (a catalog entry). */
  canPull(caller: Caller, repository: string): Promise<boolean>;
  /**
   * Whether `caller` may mount a blob from `repository`: with a bearer token only the token's own
   * access claim counts (pull on `repository`), never what its holder could get with another
   * token; otherwise (Basic, anonymous) what the identity may pull.
   */
  canMountFrom(caller: Caller, repository: string): Promise<boolean>;
}

const ANONYMOUS: Caller = { identity: { kind: "anonymous" } };

/** Auth off: everyone may do everything, except push and delete when `pullOnly` (a non-loopback listener). */
export function createOpenGuard(pullOnly: boolean): Guard {
  return {
    enabled: false,
    async check(_req, need) {
      if (pullOnly && need.actions.some((a) => a !== "pull")) {
        throw new RegistryError("DENIED", "anonymous push is disabled: enable access control or set auth.allowAnonymousPush");
      }
      return ANONYMOUS;
    },
    async canPull() {
      return true;
    },
    async canMountFrom() {
      return true;
    },
  };
}

export interface TokenGuardOptions {
  store: AuthStore;
  tokens: TokenService;
  policies: ConfigPolicy[];
  defaultVisibility: "public" | "private";
  service: string;
  /** The token endpoint's URL for a request (from config, or derived from its Host header). */
  realm: (req: IncomingMessage) => string;
  basic: boolean;
  /** Shared with the token endpoint, so Basic on /v2/ is no way around the limit on guessing. */
  throttle: LoginThrottles;
  /** Where each Basic password check is recorded (`auth.login`). */
  events?: EventLog;
  /** The authorizer to use; one is built from `store`, `policies` and `defaultVisibility` when absent. */
  authorizer?: Authorizer;
  /**
   * Browser sessions: a request with no Authorization header but the session cookie is the
   * session's identity, as Basic credentials would be; its changes must carry the CSRF token.
   */
  sessions?: SessionService;
}

export function createTokenGuard(options: TokenGuardOptions): Guard & { authorizer: Authorizer } {
  const authorizer = options.authorizer ?? createAuthorizer(options);
  // scrypt costs tens of milliseconds: remember good Basic logins briefly (keyed by a hash, never the password).
  const basicCache = new Map<string, { identity: Identity; until: number }>();

  function challenge(req: IncomingMessage, need: Need, error?: string): RegistryError {
    const scope = need.catalog ? "registry:catalog:*" : need.repository ? `repository:${need.repository}:${need.actions.join(",")}` : undefined;
    const parts = [`realm="${options.realm(req)}"`, `service="${options.service}"`];
    if (scope && need.actions.length + (need.catalog ? 1 : 0) > 0) parts.push(`scope="${scope}"`);
    if (error) parts.push(`error="${error}"`);
    const detail = need.repository ? need.actions.map((a) => ({ Type: "repository", Name: need.repository, Action: a })) : undefined;
    return new RegistryError("UNAUTHORIZED", "authentication required", detail, {
      headers: { "WWW-Authenticate": `Bearer ${parts.join(",")}` },
    });
  }

  async function identityOf(token: VerifiedToken): Promise<Identity> {
    const p = token.principal;
    if (p?.kind === "user") return { kind: "user", name: p.name, admin: p.admin };
    if (p?.kind === "token") {
      const record = await options.store.getToken(p.id);
      const owner = record && (await options.store.getUser(record.owner));
      if (record && owner && record.revokedAt === undefined) {
        return { kind: "token", id: record.id, owner: record.owner, name: record.name, admin: owner.admin, scopes: parseScopes(record.scopes) };
      }
    }
    return { kind: "anonymous" };
  }

  /** A cached robot token login ends with its revocation or expiry at once (one indexed read, not the scrypt check the cache saves). */
  async function stillLive(identity: Identity): Promise<boolean> {
    if (identity.kind !== "token") return true;
    const record = await options.store.getToken(identity.id);
    return record !== undefined && isTokenLive(record);
  }

  async function basicIdentity(req: IncomingMessage, username: string, password: string, origin: Origin | undefined): Promise<Identity | undefined> {
    const key = createHash("sha256").update(`${username}\0${password}`).digest("hex");
    const cached = basicCache.get(key);
    if (cached && cached.until > Date.now() && (await stillLive(cached.identity))) return cached.identity;
    const source = req.socket.remoteAddress ?? "unknown";
    const result = await attemptLogin(options.store, options.throttle, { username, password, source, via: "basic", ...(origin ? { origin } : {}) }, options.events);
    if (!result.ok) return undefined;
    if (basicCache.size > 10_000) basicCache.clear();
    basicCache.set(key, { identity: result.identity, until: Date.now() + 60_000 });
    return result.identity;
  }

  function grantedOn(token: VerifiedToken, repository: string): string[] {
    return token.access.filter((a) => a.type === "repository" && a.name === repository).flatMap((a) => a.actions);
  }

  function tokenGrants(token: VerifiedToken, need: Need): boolean {
    // Any valid token lists the catalog: the listing itself holds only what the caller may pull
    // (podman search asks for a token without the catalog scope).
    if (need.catalog || !need.repository) return true;
    const granted = grantedOn(token, need.repository);
    const all = (actions: Action[]) => actions.every((a) => coversAction(granted, a));
    return all(need.actions) || (need.orActions !== undefined && all(need.orActions));
  }

  return {
    enabled: true,
    authorizer,
    async check(req, need, origin) {
      const header = req.headers.authorization;
      if (header && /^bearer /i.test(header)) {
        const token = await options.tokens.verify(header.slice(7).trim());
        if (!token) throw challenge(req, need, "invalid_token");
        if (tokenGrants(token, need)) return { identity: await identityOf(token), token };
        if (token.subject === undefined) throw challenge(req, need, "insufficient_scope");
        throw new RegistryError("DENIED", undefined, need.repository ? { repository: need.repository } : undefined);
      }
      const cookie = !header && options.sessions ? sessionCookieOf(req) : undefined;
      const session = cookie !== undefined ? await options.sessions!.resolve(cookie) : undefined;
      if (session) checkCsrf(req, session);
      const basic = options.basic ? parseBasic(header) : undefined;
      const identity: Identity = session
        ? session.identity
        : basic
          ? ((await basicIdentity(req, basic.username, basic.password, origin)) ?? { kind: "anonymous" })
          : { kind: "anonymous" };
      if (basic && identity.kind === "anonymous") throw challenge(req, need);
      if (identity.kind === "anonymous" && !need.repository) throw challenge(req, need);
      if (need.repository) {
        const allowed = await authorizer.allowed(identity, need.repository);
        const all = (actions: Action[]) => actions.every((a) => allowed.has(a));
        if (!all(need.actions) && !(need.orActions && all(need.orActions))) {
          if (identity.kind === "anonymous") throw challenge(req, need);
          throw new RegistryError("DENIED", undefined, { repository: need.repository });
        }
      }
      return session ? { identity, session } : { identity };
    },
    async canPull(caller, repository) {
      if (caller.token && coversAction(grantedOn(caller.token, repository), "pull")) return true;
      return (await authorizer.allowed(caller.identity, repository)).has("pull");
    },
    async canMountFrom(caller, repository) {
      if (caller.token) return coversAction(grantedOn(caller.token, repository), "pull");
      return (await authorizer.allowed(caller.identity, repository)).has("pull");
    },
  };
}
