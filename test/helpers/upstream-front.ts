/**
 * The "front" of the upstream fixture: a streaming reverse proxy in front of CNCF distribution that
 * plays Docker Hub's edge. It forwards requests unchanged, adds Docker Hub's rate-limit headers to
 * manifest responses, logs what it saw, and has fault switches tests flip at run time.
 */
import { Agent, createServer, request, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One request as the front saw it. */
export interface FrontRequest {
  method: string;
  /** Path without the query string, e.g. `/v2/library/x/manifests/latest`. */
  path: string;
  /** The query string with its `?`, or "". */
  query: string;
  /** Status sent to the client; 0 while no response head has been sent (or the connection died first). */
  status: number;
  /** Response body bytes sent to the client (so far). */
  bytes: number;
  /** True when the request was passed on to distribution (not answered by a fault switch). */
  forwarded: boolean;
  /** True when cutBlobsAfter cut this response short. */
  cut: boolean;
}

/**
 * Limits a fault to some requests. `match` is tested against the path (no query); `times` makes the
 * fault clear itself after that many requests it applied to.
 */
export interface FaultScope {
  match?: RegExp;
  times?: number;
}

/** Options for failWith. */
export interface FailOptions extends FaultScope {
  /** Seconds for a Retry-After header. */
  retryAfter?: number;
}

/** The front's controls; the Upstream fixture re-exports them. */
export interface Front {
  port: number;
  failWith(status: number | undefined, options?: FailOptions): void;
  cutBlobsAfter(bytes: number | undefined, options?: FaultScope): void;
  delay(ms: number, options?: FaultScope): void;
  /** Closes the listening socket and every open connection: clients get connection refused. */
  stop(): Promise<void>;
  /** Listens again on the same port (free ports are not reassigned at once, so it is still there). */
  start(): Promise<void>;
  /** stop() for good, and drops the kept-alive connections to distribution. */
  close(): Promise<void>;
  requests(): FrontRequest[];
  clearRequests(): void;
  rateLimitRemaining(): number;
  resetRateLimit(limit?: number): void;
}

interface Fault<T> {
  value: T;
  match?: RegExp;
  left?: number;
}

/** Returns the fault's value if it applies to `path`, counting down `times`. */
function take<T>(fault: Fault<T> | undefined, path: string): T | undefined {
  if (!fault || (fault.match && !fault.match.test(path))) return undefined;
  if (fault.left !== undefined) {
    if (fault.left <= 0) return undefined;
    fault.left -= 1;
  }
  return fault.value;
}

function fault<T>(value: T | undefined, scope: FaultScope = {}): Fault<T> | undefined {
  return value === undefined ? undefined : { value, match: scope.match, left: scope.times };
}

const MANIFEST = /^\/v2\/.+\/manifests\/[^/]+$/;
const BLOB = /^\/v2\/.+\/blobs\/[^/]+$/;
const WINDOW = 21600;
const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"];
// Node's server has already answered 100 Continue; passing Expect on would make distribution answer it again
const REQUEST_DROP = ["expect"];

function errorBody(status: number): { code: string; message: string } {
  if (status === 429) {
    return {
      code: "TOOMANYREQUESTS",
      message: "You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit",
    };
  }
  if (status === 503) return { code: "UNAVAILABLE", message: "service unavailable" };
  if (status === 401) return { code: "UNAUTHORIZED", message: "authentication required" };
  if (status === 403) return { code: "DENIED", message: "requested access to the resource is denied" };
  return { code: "UNKNOWN", message: `upstream fixture failure switch (${status})` };
}

/**
 * Starts the front on a free loopback port, forwarding to distribution at `target`.
 * `rateLimit` is the manifest GET budget (Docker Hub's anonymous 100 per 6 h); once spent, manifest
 * GETs answer 429 until resetRateLimit.
 */
export async function createFront(target: { host: string; port: number }, rateLimit = 100): Promise<Front> {
  const agent = new Agent({ keepAlive: true });
  let log: FrontRequest[] = [];
  let failure: Fault<{ status: number; retryAfter?: number }> | undefined;
  let cut: Fault<number> | undefined;
  let pause: Fault<number> | undefined;
  let limit = rateLimit;
  let remaining = rateLimit;
  const sockets = new Set<Socket>();

  function answerError(res: ServerResponse, entry: FrontRequest, status: number, headers: OutgoingHttpHeaders): void {
    const text = JSON.stringify({ errors: [errorBody(status)] });
    entry.status = status;
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
    if (entry.method === "HEAD") return void res.end();
    entry.bytes = Buffer.byteLength(text);
    res.end(text);
  }

  function forward(req: IncomingMessage, res: ServerResponse, entry: FrontRequest, extra: OutgoingHttpHeaders): void {
    entry.forwarded = true;
    const limitBytes = req.method === "GET" && BLOB.test(entry.path) ? take(cut, entry.path) : undefined;
    const headers = { ...req.headers };
    for (const h of REQUEST_DROP) delete headers[h];
    const upstream = request({ host: target.host, port: target.port, method: req.method, path: req.url, headers, agent });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.on("error", () => {
      if (!res.headersSent) answerError(res, entry, 502, {});
      else if (!entry.cut) res.destroy();
    });
    upstream.on("response", (up) => {
      const headers: OutgoingHttpHeaders = { ...up.headers, ...extra };
      for (const h of HOP_BY_HOP) delete headers[h];
      entry.status = up.statusCode ?? 502;
      res.writeHead(entry.status, headers);
      if (limitBytes !== undefined && limitBytes <= 0) {
        entry.cut = true;
        res.flushHeaders();
        upstream.destroy();
        // let the head reach the client before the connection dies
        setImmediate(() => res.destroy());
        return;
      }
      up.on("data", (chunk: Buffer) => {
        if (limitBytes !== undefined && entry.bytes + chunk.length > limitBytes) {
          const part = chunk.subarray(0, limitBytes - entry.bytes);
          entry.bytes += part.length;
          entry.cut = true;
          up.removeAllListeners("data");
          upstream.destroy();
          if (part.length > 0) res.write(part, () => res.destroy());
          else res.destroy();
          return;
        }
        entry.bytes += chunk.length;
        if (!res.write(chunk)) up.pause();
      });
      res.on("drain", () => up.resume());
      up.on("end", () => {
        if (!entry.cut) res.end();
      });
      up.on("error", () => {
        if (!entry.cut) res.destroy();
      });
    });
    req.pipe(upstream);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const entry: FrontRequest = {
      method: req.method ?? "GET",
      path: q < 0 ? url : url.slice(0, q),
      query: q < 0 ? "" : url.slice(q),
      status: 0,
      bytes: 0,
      forwarded: false,
      cut: false,
    };
    log.push(entry);
    const wait = take(pause, entry.path);
    if (wait !== undefined && wait > 0) {
      await new Promise((r) => setTimeout(r, wait));
      if (req.socket.destroyed || res.destroyed) return;
    }
    const fail = entry.path.startsWith("/v2") ? take(failure, entry.path) : undefined;
    if (fail) {
      return answerError(res, entry, fail.status, fail.retryAfter === undefined ? {} : { "retry-after": String(fail.retryAfter) });
    }
    const extra: OutgoingHttpHeaders = {};
    if (MANIFEST.test(entry.path) && (entry.method === "GET" || entry.method === "HEAD")) {
      if (entry.method === "GET") {
        if (remaining <= 0) {
          return answerError(res, entry, 429, { "ratelimit-limit": `${limit};w=${WINDOW}`, "ratelimit-remaining": `0;w=${WINDOW}` });
        }
        remaining -= 1;
      }
      extra["ratelimit-limit"] = `${limit};w=${WINDOW}`;
      extra["ratelimit-remaining"] = `${remaining};w=${WINDOW}`;
      extra["docker-ratelimit-source"] = "127.0.0.1";
    }
    forward(req, res, entry, extra);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  const stop = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };

  return {
    get port() {
      return port;
    },
    failWith(status, options = {}) {
      failure = fault(status === undefined ? undefined : { status, retryAfter: options.retryAfter }, options);
    },
    cutBlobsAfter(bytes, options) {
      cut = fault(bytes, options);
    },
    delay(ms, options) {
      pause = fault(ms > 0 ? ms : undefined, options);
    },
    stop,
    async start() {
      if (!server.listening) await listen();
    },
    async close() {
      await stop();
      agent.destroy();
    },
    requests: () => [...log],
    clearRequests() {
      log = [];
    },
    rateLimitRemaining: () => remaining,
    resetRateLimit(newLimit = limit) {
      limit = newLimit;
      remaining = newLimit;
    },
  };
}
