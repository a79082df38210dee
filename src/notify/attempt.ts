import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { retryAfterMs, type Connections } from "../client/transport.js";
import { RESERVED_WEBHOOK_HEADERS } from "../config/schema.js";
import { formatDuration } from "../config/units.js";
import type { WebhookEndpoint } from "./endpoints.js";
import type { RenderedDelivery } from "./formats.js";
import type { Signer } from "./sign.js";

/** The first retry comes after 1 s; each later one may wait twice as long, up to 10 min. */
const RETRY_BASE_MS = 1000;
const RETRY_CAP_MS = 10 * 60_000;

/**
 * How long to wait before the next attempt after `attempts` failed ones (0 for the first failure):
 * exponential backoff with full jitter above a 1 s floor, so receivers coming back up are not
 * met by every node's retries at the same instant.
 */
function retryDelay(attempts: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(attempts, 30));
  return Math.round(RETRY_BASE_MS + random() * (ceiling - RETRY_BASE_MS));
}

/** When to try again after a failure at `now`, or undefined to park the delivery: its window (`windowStart` + retryFor) is over. */
export function nextAttemptAt(
  { now, windowStart, retryFor, attempts, retryAfterMs }: { now: number; windowStart: number; retryFor: number; attempts: number; retryAfterMs?: number },
  random: () => number = Math.random,
): number | undefined {
  const deadline = windowStart + retryFor;
  if (now >= deadline) return undefined;
  const wait = Math.max(retryDelay(attempts, random), Math.min(retryAfterMs ?? 0, RETRY_CAP_MS));
  return Math.min(now + wait, deadline);
}

export interface AttemptOutcome {
  delivered: boolean;
  /** The receiver's status, when it answered. */
  status?: number;
  /** Why it failed, for the log and the store: never a URL, a header or a secret. */
  error?: string;
  /** Milliseconds from sending to the answer (or the failure). */
  ms: number;
  /** A 429 or 503's Retry-After, in milliseconds. */
  retryAfterMs?: number;
  /** Aborted by `stop`: not an attempt to record. */
  stopped?: boolean;
}

/**
 * One POST over node:http (a keep-alive agent costs a fraction of fetch's CPU per request),
 * resolving with the answer's status and headers once its body is read: a short one to the end so
 * the connection is reused, a long one (over 64 KiB) no further, so a receiver cannot fill memory.
 * Redirects are not followed.
 */
function post(url: URL, headers: Record<string, string>, body: string, connections: Connections, signal: AbortSignal): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === "https:";
    const send = https ? httpsRequest : httpRequest;
    const req = send(url, { method: "POST", headers: { ...headers, "content-length": String(Buffer.byteLength(body)) }, agent: https ? connections.https : connections.http, signal }, (res) => {
      const answer = { status: res.statusCode ?? 0, headers: res.headers };
      let read = 0;
      res.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read > 65_536) res.destroy();
      });
      // A body cut short (or timed out) changes nothing: the status was already received.
      res.on("close", () => resolve(answer));
      res.on("error", () => resolve(answer));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The reason a request failed, without the URL (its path or query may hold a token). */
function failureReason(err: unknown, endpoint: WebhookEndpoint): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause;
  const text = cause?.code ? `${cause.code}${cause.message && !cause.message.includes(cause.code) ? `: ${cause.message}` : ""}` : (cause?.message ?? e?.message ?? String(err));
  return text.split(endpoint.url).join("<url>").slice(0, 300);
}

/**
 * The headers of a delivery: the endpoint's own (its credentials), `user-agent` unless one of
 * them is a User-Agent (in any case), then Berth's: `content-type` and the Standard Webhooks
 * headers, which no configured header replaces or adds to (the configuration refuses them; an
 * endpoint built otherwise has them dropped here).
 */
function requestHeaders(endpoint: WebhookEndpoint, userAgent: string, contentType: string, signed: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {};
  const configured = Object.entries(endpoint.headers);
  if (!configured.some(([name]) => name.toLowerCase() === "user-agent")) headers["user-agent"] = userAgent;
  for (const [name, value] of configured) if (!RESERVED_WEBHOOK_HEADERS.has(name.toLowerCase())) headers[name] = value;
  return { ...headers, "content-type": contentType, ...signed };
}

/**
 * One POST of `rendered` to `endpoint`, signed, within the endpoint's timeout (which covers the
 * answer's body too) or until `stop` aborts it. 2xx is delivered; anything else, redirects
 * included (a signed body is not sent on to another address), is a failure to retry.
 */
export async function sendDelivery(
  endpoint: WebhookEndpoint,
  eventId: string,
  rendered: RenderedDelivery,
  signer: Signer,
  { stop, userAgent, connections, now = new Date() }: { stop: AbortSignal; userAgent: string; connections: Connections; now?: Date },
): Promise<AttemptOutcome> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  // One controller and a plain timer rather than AbortSignal.any(AbortSignal.timeout(…)): on Node 20
  // the composite holds its sources weakly, and a collected timeout signal never fires.
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, endpoint.timeout);
  const onStop = () => abort.abort();
  stop.addEventListener("abort", onStop, { once: true });
  if (stop.aborted) abort.abort();
  try {
    const headers = requestHeaders(endpoint, userAgent, rendered.contentType, signer.headers(eventId, now, rendered.body));
    const res = await post(new URL(endpoint.url), headers, rendered.body, connections, abort.signal);
    if (res.status >= 200 && res.status < 300) return { delivered: true, status: res.status, ms: ms() };
    const after = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers) : undefined;
    return { delivered: false, status: res.status, error: `HTTP ${res.status}`, ms: ms(), ...(after !== undefined ? { retryAfterMs: after } : {}) };
  } catch (err) {
    if (stop.aborted) return { delivered: false, error: "stopped", ms: ms(), stopped: true };
    if (timedOut) return { delivered: false, error: `no answer within ${formatDuration(endpoint.timeout)}`, ms: ms() };
    return { delivered: false, error: failureReason(err, endpoint), ms: ms() };
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", onStop);
  }
}
