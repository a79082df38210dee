import type { IncomingMessage } from "node:http";
import { createRegistryClient, RegistryClientError, TOKEN_REFUSED, type RegistryClient } from "../client/registry-client.js";
import type { UpstreamConfig } from "../config/schema.js";
import { RegistryError } from "../oci/errors.js";
import { globMatch } from "../oci/glob.js";
import { berthVersion } from "../version.js";

/** A configured upstream registry with its client and what Berth knows of its health. */
export interface Upstream {
  readonly name: string;
  /** Its URL without credentials, for messages. */
  readonly url: string;
  readonly index: number;
  readonly isDefault: boolean;
  readonly tagTtlMs: number;
  readonly client: RegistryClient;
  /** Docker Hub's rule: a one-segment name means `library/<name>`. */
  normalise(remote: string): string;
  /** Throws DENIED naming the rule when `remote` is outside the allow-list. */
  allow(remote: string): void;
  /** While set, the upstream is not asked: until when, and the failure that started it (a 429, or it was unreachable). */
  backingOff(now?: number): { until: number; reason: RegistryClientError } | undefined;
  /** Records a failure that should keep requests off the upstream for a while. */
  failed(err: unknown): void;
}

/** Where a name is served from: Berth's own repositories, or an upstream through its cache repository. */
export type Resolution = { kind: "local" } | { kind: "proxy"; target: ProxyTarget };

export interface ProxyTarget {
  upstream: Upstream;
  /** The repository's name on the upstream (`library/nginx`). */
  remote: string;
  /** The cache repository in Berth (`docker.io/library/nginx`), whichever form the client used. */
  local: string;
}

/** Sees what upstreams say about their rate limits (`ratelimit-limit`, `ratelimit-remaining`). */
export type RateLimitObserver = (upstream: string, limit: number | undefined, remaining: number | undefined) => void;

/** How long an unreachable upstream is left alone, so requests for what is not cached fail fast. */
const UNREACHABLE_PAUSE_MS = 5_000;
/** How long refused credentials keep requests off the upstream. */
const CREDENTIALS_PAUSE_MS = 30_000;
/** How long a 429 without Retry-After keeps requests off the upstream. */
const RATE_LIMIT_PAUSE_MS = 60_000;

const firstNumber = (value: string | string[] | undefined) => {
  const match = /^\s*(\d+)/.exec(Array.isArray(value) ? (value[0] ?? "") : (value ?? ""));
  return match ? Number(match[1]) : undefined;
};

function createUpstream(config: UpstreamConfig, index: number, onRateLimit?: RateLimitObserver): Upstream {
  const url = new URL(config.url);
  const library = config.libraryPrefix ?? (config.name === "docker.io" || url.hostname.endsWith("docker.io"));
  let pausedUntil = 0;
  let pauseReason: RegistryClientError | undefined;
  const observe = (res: IncomingMessage) => {
    const limit = firstNumber(res.headers["ratelimit-limit"]);
    const remaining = firstNumber(res.headers["ratelimit-remaining"]);
    if (limit !== undefined || remaining !== undefined) onRateLimit?.(config.name, limit, remaining);
  };
  const client = createRegistryClient({
    url: config.url,
    ...(config.username && config.password ? { credentials: { username: config.username, password: config.password } } : {}),
    timeoutMs: config.timeout,
    userAgent: `berth/${berthVersion()} (pull-through cache)`,
    observe,
  });
  return {
    name: config.name,
    url: url.origin,
    index,
    isDefault: config.default,
    tagTtlMs: config.tagTtl,
    client,
    normalise(remote) {
      return library && !remote.includes("/") ? `library/${remote}` : remote;
    },
    allow(remote) {
      if (!config.repositories || config.repositories.some((glob) => globMatch(glob, remote))) return;
      throw new RegistryError(
        "DENIED",
        `${config.name} is proxied for ${config.repositories.join(", ")} only (proxy.upstreams[${index}].repositories); ${remote} is not among them`,
        { upstream: config.name, repository: remote },
      );
    },
    backingOff(now = Date.now()) {
      return pausedUntil > now && pauseReason ? { until: pausedUntil, reason: pauseReason } : undefined;
    },
    failed(err) {
      if (!(err instanceof RegistryClientError)) return;
      if (err.status === 429) pausedUntil = Date.now() + (err.retryAfterMs ?? RATE_LIMIT_PAUSE_MS);
      // Refused credentials are not retried on every pull: an upstream may lock the account.
      else if (err.code === TOKEN_REFUSED && err.status === 401) pausedUntil = Date.now() + CREDENTIALS_PAUSE_MS;
      else if (err.kind !== "status") pausedUntil = Date.now() + UNREACHABLE_PAUSE_MS;
      else return;
      pauseReason = err;
    },
  };
}

/** The configured upstreams and the rules that map a requested name onto one of them. */
export interface Upstreams {
  readonly all: readonly Upstream[];
  /** The upstream whose prefix `name` starts with, and the rest of the name (normalised). */
  prefixed(name: string): ProxyTarget | undefined;
  /**
   * Where a read of `name` goes. `ns` (containerd's mirror parameter) picks the upstream of that
   * name, or none at all when no upstream has it; without it, a prefixed name goes to its
   * upstream, and any other to the default upstream unless it is a local repository.
   */
  resolve(name: string, ns: string | undefined, isLocal: (name: string) => Promise<boolean>): Promise<Resolution>;
  close(): void;
}

export function createUpstreams(configs: readonly UpstreamConfig[], onRateLimit?: RateLimitObserver): Upstreams {
  const all = configs.map((c, i) => createUpstream(c, i, onRateLimit));
  const byName = new Map(all.map((u) => [u.name, u]));
  const fallback = all.find((u) => u.isDefault);
  const target = (upstream: Upstream, rest: string): ProxyTarget => {
    const remote = upstream.normalise(rest);
    return { upstream, remote, local: `${upstream.name}/${remote}` };
  };

  function prefixed(name: string): ProxyTarget | undefined {
    const slash = name.indexOf("/");
    if (slash < 0) return undefined;
    const upstream = byName.get(name.slice(0, slash));
    return upstream && target(upstream, name.slice(slash + 1));
  }

  return {
    all,
    prefixed,
    async resolve(name, ns, isLocal) {
      if (ns !== undefined) {
        const upstream = byName.get(ns);
        if (!upstream) return { kind: "local" };
        const own = prefixed(name);
        return { kind: "proxy", target: own?.upstream === upstream ? own : target(upstream, name) };
      }
      const own = prefixed(name);
      if (own) return { kind: "proxy", target: own };
      if (!fallback || (await isLocal(name))) return { kind: "local" };
      return { kind: "proxy", target: target(fallback, name) };
    },
    close() {
      for (const u of all) u.client.close();
    },
  };
}
