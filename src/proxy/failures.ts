import { RegistryClientError } from "../client/registry-client.js";
import { RegistryError } from "../oci/errors.js";
import type { Upstream } from "./upstreams.js";

/**
 * Whether a failure means "the upstream cannot answer now" (unreachable, silent, 5xx, 429, or
 * Berth backing off): then a cached copy is served stale rather than failing the pull.
 */
export function upstreamUnavailable(err: unknown): boolean {
  if (err instanceof UpstreamPaused) return upstreamUnavailable(err.reason);
  if (!(err instanceof RegistryClientError)) return false;
  return err.kind !== "status" || err.status === 429 || (err.status ?? 0) >= 500;
}

/** Thrown instead of asking an upstream that is backing off; `reason` is the failure that started the pause. */
export class UpstreamPaused extends Error {
  constructor(
    readonly until: number,
    readonly reason: RegistryClientError,
  ) {
    super("backing off");
  }
}

/**
 * The error a client gets when the upstream could not give what is not cached: a 5xx (never a
 * 404 that would claim the image does not exist) naming the upstream, or what the upstream's
 * own refusal means for the client.
 */
export function upstreamError(err: unknown, upstream: Upstream, what: string): unknown {
  if (err instanceof RegistryError) return err;
  const where = `upstream ${upstream.name} (${upstream.url})`;
  const detail = { upstream: upstream.name, what };
  if (err instanceof UpstreamPaused) {
    // The answer the failure that started the pause gave, so a client sees the same status and cause throughout.
    const seconds = Math.max(1, Math.ceil((err.until - Date.now()) / 1000));
    const { reason } = err;
    if (reason.kind === "unreachable") return new RegistryError("UNAVAILABLE", `${where} is unreachable (${reason.message}); ${what} is not cached; Berth asks it again in ${seconds} s`, detail, { status: 502 });
    if (reason.kind === "timeout") return new RegistryError("UNAVAILABLE", `${where} did not answer in time; ${what} is not cached; Berth asks it again in ${seconds} s`, detail, { status: 504 });
    if (reason.status === 401) return new RegistryError("DENIED", `${where} refused Berth's credentials (${reason.message}): check proxy.upstreams[${upstream.index}] credentials; Berth asks it again in ${seconds} s`, detail);
    return new RegistryError("UNAVAILABLE", `${where} is rate-limiting Berth (429); ${what} is not cached; retry in ${seconds} s`, detail, {
      headers: { "Retry-After": String(seconds) },
    });
  }
  if (!(err instanceof RegistryClientError)) return err;
  if (err.kind === "unreachable") return new RegistryError("UNAVAILABLE", `${where} is unreachable (${err.message}); ${what} is not cached`, detail, { status: 502 });
  if (err.kind === "timeout") return new RegistryError("UNAVAILABLE", `${where} did not answer in time; ${what} is not cached`, detail, { status: 504 });
  if (err.status === 429) {
    const seconds = Math.ceil((err.retryAfterMs ?? 60_000) / 1000);
    return new RegistryError("UNAVAILABLE", `${where} is rate-limiting Berth (429); ${what} is not cached; retry in ${seconds} s`, detail, {
      headers: { "Retry-After": String(seconds) },
    });
  }
  if (err.status === 401 || err.status === 403) {
    return new RegistryError("DENIED", `${where} refused access to ${what} (${err.message}): check proxy.upstreams[${upstream.index}] credentials`, detail);
  }
  return new RegistryError("UNAVAILABLE", `${where} failed: ${err.message}; ${what} is not cached`, detail, { status: 502 });
}
