import { Readable } from "node:stream";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { storeUnavailable } from "../unavailable.js";

/**
 * Bounds on how long Berth waits for the object store, and how a store that exceeds them is told
 * apart from other failures. The bound is on silence, never on a whole transfer: a multi-gigabyte
 * blob on a slow link is never cut for taking long, only a store that stops answering is.
 */
export interface S3Timeouts {
  /** Opening a TCP connection to the endpoint (default 5 s). */
  connectTimeoutMs?: number;
  /** Longest silence while Berth waits for the store: response headers, or the next bytes of a body (default 30 s). */
  timeoutMs?: number;
}

export const DEFAULT_S3_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_S3_TIMEOUT_MS = 30_000;
export const S3_LABEL = "object store (S3)";

const seconds = (ms: number) => `${ms / 1000}s`;

/**
 * The request handler of the client for everything but blob bodies: each request is small or
 * sends a buffered part, so the socket's idle timeout bounds it whole.
 */
export function controlHandler(t: S3Timeouts): NonNullable<S3ClientConfig["requestHandler"]> {
  return { connectionTimeout: t.connectTimeoutMs ?? DEFAULT_S3_CONNECT_TIMEOUT_MS, socketTimeout: t.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS };
}

/**
 * The request handler of the client that streams blob bodies out: bounded until the response
 * headers arrive, then unbounded at the socket (a client that reads slowly pauses the socket, and
 * that must not count); idleGuard bounds the body instead, counting only the time Berth waits.
 */
export function streamingHandler(t: S3Timeouts): NonNullable<S3ClientConfig["requestHandler"]> {
  return {
    connectionTimeout: t.connectTimeoutMs ?? DEFAULT_S3_CONNECT_TIMEOUT_MS,
    requestTimeout: t.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  };
}

/** Errors that came out of client.send: only these are the store's (an ECONNRESET may be the pushing client's). */
const fromStore = new WeakSet<object>();

const isTimeout = (err: unknown) => (err as { name?: unknown } | undefined)?.name === "TimeoutError";

/**
 * Marks what `client.send` rejects with as the store's, and makes the SDK give up on a timeout
 * at once rather than retry it: a stalled store would otherwise hold a request for three
 * timeouts. Other transient failures (a refused connection, 503 SlowDown) are still retried.
 */
export function instrumentClient(client: S3Client): S3Client {
  // The class's send, looked up per call, so wrapping it elsewhere (a test counting requests) still sees every request.
  const proto = Object.getPrototypeOf(client) as { send: (...args: unknown[]) => Promise<unknown> };
  (client as { send: unknown }).send = (...args: unknown[]) =>
    proto.send.apply(client, args).catch((err: unknown) => {
      if (typeof err === "object" && err !== null) fromStore.add(err);
      throw err;
    });
  type Strategy = {
    acquireInitialRetryToken(scope: string): Promise<unknown>;
    refreshRetryTokenForRetry(token: unknown, info: { error?: unknown }): Promise<unknown>;
    recordSuccess(token: unknown): void;
  };
  const config = client.config as unknown as { retryStrategy: () => Promise<Strategy> };
  const standard = config.retryStrategy;
  let wrapped: Promise<Strategy> | undefined;
  config.retryStrategy = () =>
    (wrapped ??= standard().then((s) => ({
      acquireInitialRetryToken: (scope) => s.acquireInitialRetryToken(scope),
      refreshRetryTokenForRetry: (token, info) => (isTimeout(info.error) ? Promise.reject(info.error) : s.refreshRetryTokenForRetry(token, info)),
      recordSuccess: (token) => s.recordSuccess(token),
    })));
  return client;
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);
const UNAVAILABLE_NAMES = new Set(["ServiceUnavailable", "SlowDown", "InternalError", "RequestTimeout"]);

/** Why an error from the store means it is unreachable, too slow or failing (5xx), or undefined for anything else. */
export function s3Unavailable(t: S3Timeouts): (err: unknown) => string | undefined {
  const connect = seconds(t.connectTimeoutMs ?? DEFAULT_S3_CONNECT_TIMEOUT_MS);
  const timeout = seconds(t.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS);
  return (err) => {
    if (typeof err !== "object" || err === null || !fromStore.has(err)) return undefined;
    const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    if (isTimeout(err)) {
      return /establish a connection/.test(e.message ?? "") ? `no connection within ${connect} (storage.s3.connectTimeout)` : `no answer within ${timeout} (storage.s3.timeout)`;
    }
    if (e.code && CONNECTION_CODES.has(e.code)) return `cannot connect (${e.code})`;
    const status = e.$metadata?.httpStatusCode;
    if ((status !== undefined && status >= 500) || UNAVAILABLE_NAMES.has(e.name ?? "")) return `it answered ${status ?? e.name} (${e.name})`;
    return undefined;
  };
}

/**
 * `body` (an S3 response body) as a stream that fails with 503 UNAVAILABLE when the store sends
 * nothing for `timeoutMs` while Berth is waiting for it; time spent waiting on a slow reader
 * downstream does not count, since the body is only read when the reader wants more.
 */
export function idleGuard(body: Readable, t: S3Timeouts): Readable {
  const ms = t.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS;
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const stalled = () => storeUnavailable("blobs", S3_LABEL, `no data for ${seconds(ms)} mid-transfer (storage.s3.timeout)`);
  async function* guarded(): AsyncGenerator<Buffer> {
    let timer: NodeJS.Timeout | undefined;
    try {
      for (;;) {
        const step = await new Promise<IteratorResult<Buffer>>((resolve, reject) => {
          timer = setTimeout(() => reject(stalled()), ms);
          it.next().then(resolve, (err: unknown) =>
            reject(storeUnavailable("blobs", S3_LABEL, `the transfer broke (${(err as Error)?.message ?? String(err)})`, err)),
          );
        }).finally(() => clearTimeout(timer));
        if (step.done) return;
        yield step.value;
      }
    } finally {
      body.destroy();
    }
  }
  return Readable.from(guarded(), { objectMode: false });
}
