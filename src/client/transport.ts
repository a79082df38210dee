import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";

/** Why a request to a registry failed before, or instead of, a usable answer. */
export type FailureKind = "unreachable" | "timeout" | "status";

/**
 * A request to another registry that did not succeed: it could not connect (`unreachable`), went
 * silent for longer than the timeout (`timeout`), or answered a status the caller cannot use
 * (`status`, with the OCI error code and message when the body carried them).
 */
export class RegistryClientError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly status?: number,
    readonly code?: string,
    /** From `Retry-After` (seconds or a date), for 429 and 503. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "RegistryClientError";
  }
}

export interface SendOptions {
  method: string;
  headers?: Record<string, string>;
  /** A whole body, or a stream piped as the body (set Content-Length in `headers` when it is known). */
  body?: Buffer | Readable;
  /** Longest silence allowed: before the connection, between the response's bytes. */
  timeoutMs: number;
}

/** Keep-alive connection pools, one per scheme, shared by every request of one client (or of the webhook dispatcher); `destroy()` them when done. */
export interface Connections {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
  destroy(): void;
}

export function createConnections(maxSockets = 32): Connections {
  const http = new HttpAgent({ keepAlive: true, maxSockets });
  const https = new HttpsAgent({ keepAlive: true, maxSockets });
  return {
    http,
    https,
    destroy() {
      http.destroy();
      https.destroy();
    },
  };
}

/** Seconds or an HTTP date, as milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const value = headers["retry-after"];
  if (typeof value !== "string" || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Sends one request and resolves with the response once its headers arrive; the body is left for
 * the caller to read or discard. The silence timeout keeps applying while the body streams: a
 * response that stalls is destroyed with a `timeout` error.
 */
export function send(url: URL, connections: Connections, options: SendOptions): Promise<IncomingMessage> {
  const secure = url.protocol === "https:";
  const request = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: options.method,
      headers: options.headers,
      agent: secure ? connections.https : connections.http,
    });
    let answer: IncomingMessage | undefined;
    req.setTimeout(options.timeoutMs, () => {
      const err = new RegistryClientError("timeout", `${url.host} sent nothing for ${options.timeoutMs} ms`);
      // The body's reader must see this error, not the "aborted" the socket's end would give it.
      answer?.destroy(err);
      req.destroy(err);
    });
    req.on("error", (err) => {
      if (answer) return;
      if (err instanceof RegistryClientError) return reject(err);
      reject(new RegistryClientError("unreachable", `${url.host}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    req.on("response", (res) => {
      answer = res;
      res.on("error", () => {});
      resolve(res);
    });
    const body = options.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on("error", (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

/** Reads a whole (small) body, refusing more than `limit` bytes; a connection lost midway is `unreachable`. */
export async function readAll(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        res.destroy();
        throw new RegistryClientError("status", `response larger than ${limit} bytes`, res.statusCode);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof RegistryClientError) throw err;
    throw new RegistryClientError("unreachable", `the connection was lost after ${size} bytes of the answer (${(err as Error).message})`, res.statusCode);
  }
  return Buffer.concat(chunks);
}

/** Drains and drops a body, so the connection can be reused. */
export function discard(res: IncomingMessage): void {
  res.resume();
}

/** The RegistryClientError for an answer the caller cannot use, with the OCI error code and message of its body. */
export function errorOf(res: IncomingMessage, body: Buffer, what: string): RegistryClientError {
  let code: string | undefined;
  let message = "";
  try {
    const first = JSON.parse(body.toString("utf8"))?.errors?.[0];
    code = typeof first?.code === "string" ? first.code : undefined;
    message = typeof first?.message === "string" ? first.message : "";
  } catch {
    // not an OCI error body
  }
  const status = res.statusCode ?? 0;
  return new RegistryClientError("status", `${what}: ${status}${code ? ` ${code}` : ""}${message ? ` (${message})` : ""}`, status, code, retryAfterMs(res.headers));
}

/** Reads (a bounded part of) an error body and makes the RegistryClientError for it. */
export async function failure(res: IncomingMessage, what: string): Promise<RegistryClientError> {
  const body = await readAll(res, 64 << 10).catch(() => Buffer.alloc(0));
  return errorOf(res, body, what);
}
