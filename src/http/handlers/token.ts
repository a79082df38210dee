import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { describeIdentity, type Authorizer, type Identity } from "../../auth/authorizer.js";
import { attemptLogin, parseBasic, recordLogin, type LoginThrottles } from "../../auth/credentials.js";
import { hashSecret, randomSecret, verifySecret } from "../../auth/passwords.js";
import { ANY_ACTION, formatScope, grantedActions, parseScopes, type Access } from "../../auth/scope.js";
import type { Principal, TokenService } from "../../auth/tokens.js";
import { RegistryError } from "../../oci/errors.js";
import { isValidName } from "../../oci/reference.js";
import type { AuthStore } from "../../storage/auth-store.js";
import type { EventLog, Origin } from "../../registry/events.js";
import { readBody, reply } from "../respond.js";

export interface TokenEndpointOptions {
  store: AuthStore;
  tokens: TokenService;
  authorizer: Authorizer;
  /** Failed logins per user and source address (a few), and per source address (many: NAT). */
  throttle: LoginThrottles;
  service: string;
  /** Told of each login and refresh-token check (metrics). */
  /** Where logins and issued tokens are recorded. */
  events?: EventLog;
  /**
   * The pull-through cache's repository that a read of `name` is served from, when that is another
   * name (`docker.io/library/x` for `library/x` or `docker.io/x`); the guard authorizes such reads
   * on it, so a token asked for `name` also carries the pull allowed there.
   */
  cacheRepositoryOf?: (name: string) => Promise<string | undefined>;
}

const REFRESH_TTL_MS = 30 * 24 * 3600 * 1000;

function principalOf(identity: Identity): Principal | undefined {
  if (identity.kind === "user") return { kind: "user", name: identity.name, admin: identity.admin };
  if (identity.kind === "token") return { kind: "token", id: identity.id };
  return undefined;
}

/**
 * The Docker token endpoint: `GET /token` (Basic credentials or anonymous; `scope` repeated;
 * `offline_token=true` for a refresh token) and the OAuth2 `POST /token` (`grant_type=password`
 * or `refresh_token`). Grants the intersection of what was asked and what is allowed; a partial
 * grant is not an error. `repository:NAME:*` yields every action the caller holds there, spelled
 * out in the token; `registry:catalog:*` is granted to anyone (the listing is filtered per caller).
 */
export function createTokenEndpoint(options: TokenEndpointOptions) {
  const { store, tokens, authorizer, throttle, service } = options;
  const { events } = options;

  async function login(req: IncomingMessage, username: string, password: string, origin: Origin): Promise<Identity> {
    const source = req.socket.remoteAddress ?? "unknown";
    const result = await attemptLogin(store, throttle, { username, password, source, via: "token", origin }, events);
    if (!result.ok) throw new RegistryError("UNAUTHORIZED", "invalid username or password");
    return result.identity;
  }

  async function refresh(value: string, origin: Origin): Promise<Identity> {
    const [id, secret] = value.split(".");
    const record = id ? await store.getRefreshToken(id) : undefined;
    const valid = record && secret && record.revokedAt === undefined && record.expiresAt > Date.now() && (await verifySecret(secret, record.secretHash));
    const user = valid ? await store.getUser(record.user) : undefined;
    await recordLogin(events, user?.name ?? "unknown", "refresh", user ? "success" : "failure", undefined, origin);
    if (!user) throw new RegistryError("UNAUTHORIZED", "invalid or revoked refresh token");
    return { kind: "user", name: user.name, admin: user.admin };
  }

  async function grant(identity: Identity, requested: Access[]): Promise<Access[]> {
    const granted: Access[] = [];
    for (const access of requested) {
      if (access.type === "registry") {
        // Everyone may list the catalog; the listing holds only what the caller may pull.
        if (access.name === "catalog") granted.push({ type: "registry", name: "catalog", actions: [ANY_ACTION] });
        continue;
      }
      if (!isValidName(access.name)) continue;
      const actions = grantedActions(access.actions, await authorizer.allowed(identity, access.name));
      if (actions.length > 0) granted.push({ type: "repository", name: access.name, actions });
      const cache = await options.cacheRepositoryOf?.(access.name);
      if (cache === undefined) continue;
      if (grantedActions(access.actions, await authorizer.allowed(identity, cache)).includes("pull")) {
        granted.push({ type: "repository", name: cache, actions: ["pull"] });
      }
    }
    return granted;
  }

  return async (req: IncomingMessage, res: ServerResponse, url: URL, origin: Origin): Promise<void> => {
    let params = url.searchParams;
    if (req.method === "POST") params = new URLSearchParams((await readBody(req, 64 * 1024)).toString("utf8"));
    else if (req.method !== "GET") throw new RegistryError("UNSUPPORTED", "use GET or POST");
    const asked = params.get("service");
    if (asked !== null && asked !== service) throw new RegistryError("DENIED", `unknown service ${asked}`, undefined, { status: 400 });

    let identity: Identity = { kind: "anonymous" };
    const grantType = params.get("grant_type");
    if (req.method === "POST" && grantType === "refresh_token") identity = await refresh(params.get("refresh_token") ?? "", origin);
    else if (req.method === "POST" && grantType === "password") identity = await login(req, params.get("username") ?? "", params.get("password") ?? "", origin);
    else if (req.method === "POST") throw new RegistryError("UNSUPPORTED", `unsupported grant_type ${grantType}`, undefined, { status: 400 });
    else {
      const basic = parseBasic(req.headers.authorization);
      if (basic) identity = await login(req, basic.username, basic.password, origin);
    }

    const access = await grant(identity, parseScopes(params.getAll("scope")));
    const subject = describeIdentity(identity);
    const principal = principalOf(identity);
    const issued = await tokens.issue(subject, access, principal);
    const body: Record<string, unknown> = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
    };
    const offline = params.get("offline_token") === "true" || params.get("access_type") === "offline";
    if (offline && identity.kind === "user") {
      const id = randomUUID();
      const secret = randomSecret();
      await store.createRefreshToken({
        id,
        user: identity.name,
        clientId: params.get("client_id") ?? "unknown",
        secretHash: await hashSecret(secret),
        createdAt: Date.now(),
        expiresAt: Date.now() + REFRESH_TTL_MS,
      });
      body.refresh_token = `${id}.${secret}`;
    }
    await events?.emit([
      events.event("auth.token_issued", { ...(subject ? { actor: subject } : {}), detail: { scopes: access.map(formatScope), offline: body.refresh_token !== undefined } }, origin),
    ]);
    reply(res, 200, { "Cache-Control": "no-store" }, body);
  };
}
