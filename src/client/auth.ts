import type { IncomingMessage } from "node:http";
import { parseChallenge } from "./challenge.js";
import { readAll, RegistryClientError, send, type Connections } from "./transport.js";

export interface Credentials {
  username: string;
  password: string;
}

/**
 * How a client authenticates to one registry, learnt from its first 401: the Docker token flow
 * (a Bearer challenge: tokens fetched from the realm, anonymously or with Basic credentials, and
 * cached per scope until they expire) or Basic on every request.
 */
export interface ClientAuth {
  /** The Authorization header for a request needing `scope`, fetching a token when the registry uses tokens. */
  header(scope: string | undefined): Promise<string | undefined>;
  /** Learns from a 401 answer; resolves true when a retry may now succeed. */
  challenged(res: IncomingMessage, scope: string | undefined): Promise<boolean>;
  /** How many tokens were fetched (tests, metrics). */
  readonly tokensFetched: number;
}

interface BearerRealm {
  realm: string;
  service?: string;
}

const TOKEN_SLACK_MS = 10_000;

/** The `code` of a RegistryClientError from the token endpoint itself (not the registry): the credentials or the request for a token were refused. */
export const TOKEN_REFUSED = "TOKEN_REFUSED";

export function createClientAuth(options: { credentials?: Credentials; connections: Connections; timeoutMs: number; userAgent: string }): ClientAuth {
  const { credentials, connections, timeoutMs, userAgent } = options;
  const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}` : undefined;
  let mode: "unknown" | "basic" | "bearer" = "unknown";
  let bearer: BearerRealm | undefined;
  const tokens = new Map<string, { value: string; until: number }>();
  const inflight = new Map<string, Promise<string>>();
  let fetched = 0;

  async function fetchToken(realm: BearerRealm, scope: string | undefined): Promise<string> {
    const url = new URL(realm.realm);
    if (realm.service) url.searchParams.set("service", realm.service);
    if (scope) for (const s of scope.split(" ")) url.searchParams.append("scope", s);
    const headers: Record<string, string> = { "user-agent": userAgent, accept: "application/json" };
    if (basic) headers.authorization = basic;
    const res = await send(url, connections, { method: "GET", headers, timeoutMs });
    const body = await readAll(res, 1 << 20);
    if (res.statusCode !== 200) {
      const status = res.statusCode ?? 0;
      throw new RegistryClientError("status", `token endpoint ${url.host} answered ${status}${status === 401 ? " (credentials refused)" : ""}`, status, TOKEN_REFUSED);
    }
    let parsed: { token?: string; access_token?: string; expires_in?: number };
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw new RegistryClientError("status", `token endpoint ${url.host} answered something other than JSON`, 200);
    }
    const value = parsed.token ?? parsed.access_token;
    if (!value) throw new RegistryClientError("status", `token endpoint ${url.host} answered no token`, 200);
    fetched++;
    // As long as the registry says (60 s when it says nothing), renewed a little before the end.
    const lifetime = (Number(parsed.expires_in) > 0 ? Number(parsed.expires_in) : 60) * 1000;
    tokens.set(scope ?? "", { value, until: Date.now() + lifetime - Math.min(TOKEN_SLACK_MS, lifetime / 4) });
    return value;
  }

  async function token(scope: string | undefined): Promise<string> {
    const key = scope ?? "";
    const cached = tokens.get(key);
    if (cached && cached.until > Date.now()) return cached.value;
    let pending = inflight.get(key);
    if (!pending) {
      pending = fetchToken(bearer!, scope).finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return pending;
  }

  return {
    get tokensFetched() {
      return fetched;
    },
    async header(scope) {
      if (mode === "basic") return basic;
      if (mode === "bearer") return `Bearer ${await token(scope)}`;
      return undefined;
    },
    async challenged(res, scope) {
      const challenge = parseChallenge(res.headers["www-authenticate"]);
      if (challenge?.scheme === "bearer" && challenge.params.realm) {
        bearer = { realm: challenge.params.realm, ...(challenge.params.service ? { service: challenge.params.service } : {}) };
        mode = "bearer";
        // A 401 with a token we hold means it no longer works (revoked, or the scope grew).
        tokens.delete(scope ?? "");
        await token(scope ?? challenge.params.scope);
        return true;
      }
      if (challenge?.scheme === "basic" && basic && mode !== "basic") {
        mode = "basic";
        return true;
      }
      return false;
    },
  };
}
