import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { RegistryError } from "../oci/errors.js";
import { isDirectReadable } from "../storage/blob-store.js";
import type { Logger } from "../logger.js";
import { unavailableStore } from "../storage/unavailable.js";

export type Headers = Record<string, string | number | string[]>;

/** Sends a complete response with an optional small body (JSON objects are serialised). */
export function reply(res: ServerResponse, status: number, headers: Headers = {}, body?: unknown): void {
  let payload: Buffer | undefined;
  if (body !== undefined) {
    payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    if (!("Content-Type" in headers) && !Buffer.isBuffer(body)) headers["Content-Type"] = "application/json";
  }
  res.writeHead(status, { ...headers, "Content-Length": headers["Content-Length"] ?? payload?.length ?? 0 });
  res.end(res.req.method === "HEAD" ? undefined : payload);
}

/**
 * Streams `items` as a JSON array, written in batches of about 64 KiB as they come and paced by
 * the client, so a listing of any length never sits whole in memory. A failure midway can only
 * cut the connection (the 200 is gone): the client sees a truncated, unparsable body.
 */
export async function replyJsonArray(res: ServerResponse, items: AsyncIterable<unknown>): Promise<void> {
  const it = items[Symbol.asyncIterator]();
  // The first item before the headers: a refusal (a bad name, a store down) still gets its status.
  let next = await it.next();
  res.writeHead(200, { "Content-Type": "application/json" });
  if (res.req.method === "HEAD") {
    await it.return?.();
    res.end();
    return;
  }
  const write = async (chunk: string) => {
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off("drain", done).off("close", done);
          resolve();
        };
        res.on("drain", done).on("close", done);
      });
    }
    if (res.destroyed) throw new Error("client went away");
  };
  let batch = "[";
  try {
    for (let first = true; !next.done; next = await it.next(), first = false) {
      batch += (first ? "" : ",") + JSON.stringify(next.value);
      if (batch.length >= 65536) {
        await write(batch);
        batch = "";
      }
    }
    res.end(`${batch}]`);
  } catch (err) {
    await it.return?.();
    res.destroy();
    if (!res.req.destroyed) throw err;
  }
}

/** Streams `body` as the response; a failure midway can only cut the connection, headers being gone. */
export async function replyStream(res: ServerResponse, status: number, headers: Headers, body: Readable): Promise<void> {
  res.writeHead(status, headers);
  if (res.req.method === "HEAD") {
    body.destroy();
    res.end();
    return;
  }
  try {
    if (isDirectReadable(body)) {
      await body.writeTo(res);
      res.end();
    } else {
      await pipeline(body, res);
    }
  } catch (err) {
    // The client went away mid-body: normal for pulls that are cancelled, nothing to report.
    if ((err as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE") throw err;
  }
}

/**
 * The one error mapper: a RegistryError becomes its OCI error body and status; anything else is
 * logged and becomes a 500 UNKNOWN that reveals nothing internal.
 */
/** A refused request body up to this size is read and dropped, so the connection stays usable. */
const DRAIN_LIMIT = 8 * 1024 * 1024;

/**
 * Reads the rest of a small request body before an error answer: some clients (containerd's
 * pusher) keep writing a body the server has refused and can stall on a connection closed under
 * them. Large or unknown-length bodies are not drained: the connection is closed instead.
 */
async function drainSmallBody(req: IncomingMessage): Promise<boolean> {
  if (req.complete) return true;
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (!(declared <= DRAIN_LIMIT) || req.readableEnded) return false;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    req.on("end", () => {
      clearTimeout(timer);
      resolve(true);
    });
    req.on("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
    req.resume();
  });
}

const HANG_UP_CODES = new Set(["ECONNRESET", "ECONNABORTED", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE"]);

/** Whether `err` is the request's connection closing under it (the client hung up or was cut), not a fault of ours. */
export function clientGone(req: IncomingMessage, err: unknown): boolean {
  if (!req.socket.destroyed || err instanceof RegistryError) return false;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (code !== undefined && HANG_UP_CODES.has(code)) || (err instanceof Error && err.message === "aborted");
}

/** At most one warning per store this often: an outage fails every request, and its cause is the same each time. */
const UNAVAILABLE_WARN_EVERY_MS = 10_000;
const unavailableWarned = new WeakMap<Logger, Map<string, { at: number; suppressed: number }>>();

/** One warn line per store per UNAVAILABLE_WARN_EVERY_MS, counting the failures it stands for. */
function warnUnavailable(logger: Logger, store: string, error: RegistryError, req: IncomingMessage): void {
  let byStore = unavailableWarned.get(logger);
  if (!byStore) unavailableWarned.set(logger, (byStore = new Map()));
  const now = Date.now();
  const last = byStore.get(store);
  if (last && now - last.at < UNAVAILABLE_WARN_EVERY_MS) {
    last.suppressed++;
    return;
  }
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  logger.warn("store unavailable: answering 503", {
    store,
    error: error.message,
    ...(cause && !error.message.includes(cause) ? { cause } : {}),
    method: req.method,
    path: req.url,
    ...(last?.suppressed ? { alsoFailed: last.suppressed, sinceLastWarning_s: Math.round((now - last.at) / 1000) } : {}),
  });
  byStore.set(store, { at: now, suppressed: 0 });
}

export async function replyError(req: IncomingMessage, res: ServerResponse, err: unknown, logger: Logger): Promise<void> {
  const error =
    err instanceof RegistryError ? err : new RegistryError("UNKNOWN", "internal error", undefined, { cause: err });
  if (clientGone(req, err)) {
    // A hang-up is the client's doing: the access log records it (499, aborted), no stack trace.
    logger.debug("client went away mid-request", { method: req.method, path: req.url, error: (err as Error).message });
    res.destroy();
    return;
  }
  const store = unavailableStore(err);
  if (store) warnUnavailable(logger, store, error, req);
  if (!(err instanceof RegistryError)) {
    logger.error("request failed", {
      method: req.method,
      path: req.url,
      error: err instanceof Error ? err.stack ?? err.message : String(err),
    });
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Headers = { ...error.headers };
  // A large unread body (a rejected upload, say) would otherwise be drained byte by byte.
  if (!(await drainSmallBody(req))) headers.Connection = "close";
  if (res.headersSent || res.destroyed) return;
  reply(res, error.status, headers, error.toJSON());
}

/** Reads a small request body whole, refusing more than `limit` bytes (413 SIZE_INVALID). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  const tooLarge = () =>
    new RegistryError("SIZE_INVALID", `body exceeds ${limit} bytes`, { limit }, { status: 413 });
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Reads a small JSON body that must be an object (an empty body reads as `{}`): 400 INVALID for
 * anything else (not JSON, `null`, an array, a string, a number), 413 over `limit` bytes. `shape`,
 * when given, tells the caller in the error what the body takes.
 */
export async function readJsonObject(req: IncomingMessage, shape?: string, limit = 64 * 1024): Promise<Record<string, unknown>> {
  const text = (await readBody(req, limit)).toString("utf8");
  const expected = shape ? `: ${shape}` : "";
  let body: unknown;
  try {
    body = JSON.parse(text || "{}");
  } catch {
    throw new RegistryError("INVALID", `the body must be JSON${expected}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new RegistryError("INVALID", `the body must be a JSON object${expected}`);
  return body as Record<string, unknown>;
}

/** Whether the request carries a body (a length above zero, or chunked transfer encoding). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  return Number(req.headers["content-length"] ?? 0) > 0;
}
