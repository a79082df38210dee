import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Config } from "../config/schema.js";
import type { Logger } from "../logger.js";
import { RegistryError } from "../oci/errors.js";
import type { LimitName } from "./metrics.js";
import { createResponseWatch } from "./response-watch.js";
import { judgeProgress, sampleEvery, startProgress } from "./transfer-rate.js";

/** What a node enforces per request, from `limits` (docs/configuration.md, "Limits"). */
export interface RequestLimiter {
  /** Refuses (429 TOOMANYREQUESTS with Retry-After) an address over its request rate. */
  admitAddress(req: IncomingMessage): void;
  /** Refuses a signed-in user over their request rate; anonymous callers are counted by address only. */
  admitUser(user: string | undefined): void;
  /**
   * Counts an upload request in flight until `release`; a new upload (`starts`) is refused while
   * the node holds `maxUploads` of them. Bodies on sessions already started always get through,
   * so a push under way is never cut in the middle.
   */
  upload(starts: boolean): () => void;
  /** Cuts a request body that stalls or trickles below the minimum rate; returns the stop. */
  watchBody(req: IncomingMessage, received: { bytes: number }): () => void;
  /**
   * Cuts a response whose reader stalls or reads below the minimum rate (the same `idleTimeout`,
   * `minTransferRate` and `transferRateWindow`), counting only time the data waits on the client.
   */
  watchResponse(res: ServerResponse): () => void;
}

const tooMany = (message: string, retryAfterMs: number) =>
  new RegistryError("TOOMANYREQUESTS", message, undefined, { headers: { "Retry-After": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } });

/** Token buckets in memory, one per key, at most `maxKeys` (full ones are dropped first: they hold nothing). */
export function createTokenBuckets(ratePerSecond: number, burst: number, maxKeys = 100_000, now: () => number = Date.now) {
  const capacity = Math.max(1, burst || Math.ceil(ratePerSecond));
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refill = (b: { tokens: number; at: number }, t: number) => {
    b.tokens = Math.min(capacity, b.tokens + ((t - b.at) / 1000) * ratePerSecond);
    b.at = t;
  };
  const sweep = (t: number) => {
    for (const [key, b] of buckets) {
      refill(b, t);
      if (b.tokens >= capacity) buckets.delete(key);
    }
    // Still full of busy keys: the oldest go, a tenth at once so a flood of new keys sweeps rarely.
    for (const key of buckets.keys()) {
      if (buckets.size < maxKeys * 0.9) break;
      buckets.delete(key);
    }
  };
  return {
    /** Takes a token for `key`: 0 when granted, else the milliseconds until one is there. */
    take(key: string): number {
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) sweep(t);
        b = { tokens: capacity, at: t };
        buckets.set(key, b);
      } else refill(b, t);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return ((1 - b.tokens) / ratePerSecond) * 1000;
    },
    get size() {
      return buckets.size;
    },
  };
}

/** `observe` hears every refusal and cut (the `berth_http_limited_total` counter). */
export function createRequestLimiter(limits: Config["limits"], logger: Logger, observe: (limit: LimitName) => void = () => {}): RequestLimiter {
  const { rate } = limits;
  const byAddress = rate.perAddress > 0 ? createTokenBuckets(rate.perAddress, rate.burst) : undefined;
  const byUser = rate.perUser > 0 ? createTokenBuckets(rate.perUser, rate.burst) : undefined;
  let uploads = 0;
  const responses = createResponseWatch(limits, (res, how) => {
    observe(how.reason === "idle" ? "idle_response" : "slow_response");
    logger.info("closed slow client", {
      remote: res.req.socket.remoteAddress,
      method: res.req.method,
      path: res.req.url,
      reason: `response ${how.reason}`,
      bytes: how.bytes,
      rate: `${Math.round(how.bytesPerSecond)}B/s`,
    });
    res.socket?.destroy();
  });
  return {
    watchResponse: (res) => responses.watch(res),
    admitAddress(req) {
      const wait = byAddress?.take(req.socket.remoteAddress ?? "unknown") ?? 0;
      if (wait > 0) {
        observe("rate_address");
        throw tooMany("too many requests from this address; slow down", wait);
      }
    },
    admitUser(user) {
      const wait = user === undefined ? 0 : byUser?.take(user) ?? 0;
      if (wait > 0) {
        observe("rate_user");
        throw tooMany("too many requests from this user; slow down", wait);
      }
    },
    upload(starts) {
      if (starts && limits.maxUploads > 0 && uploads >= limits.maxUploads) {
        observe("uploads");
        throw tooMany(`this node has ${uploads} uploads in flight, its limit; try again shortly`, 1000);
      }
      uploads += 1;
      let released = false;
      return () => {
        if (!released) uploads -= 1;
        released = true;
      };
    },
    watchBody(req, received) {
      if (limits.idleTimeout === 0 && limits.minTransferRate === 0) return () => {};
      const progress = startProgress(Date.now(), received.bytes);
      const timer = setInterval(() => {
        // Bytes waiting unread: the server (a slow store, a lock) holds the body back, not the client.
        const how = judgeProgress(progress, limits, Date.now(), received.bytes, req.readableLength === 0);
        if (!how) return;
        stop();
        observe(how.reason === "idle" ? "idle_body" : "slow_body");
        logger.info("closed slow client", {
          remote: req.socket.remoteAddress,
          method: req.method,
          path: req.url,
          reason: how.reason,
          bytes: how.bytes,
          rate: `${Math.round(how.bytesPerSecond)}B/s`,
        });
        req.socket.destroy();
      }, sampleEvery(limits));
      timer.unref();
      const stop = () => {
        clearInterval(timer);
        req.off("end", stop);
        req.off("close", stop);
      };
      req.once("end", stop);
      req.once("close", stop);
      return stop;
    },
  };
}

/**
 * Caps open connections: one beyond `max` gets a bare 429 with Retry-After and is closed, before
 * a byte of its request is parsed (the HTTP layer never sees it); over TLS it is only closed.
 */
export function capConnections(server: Server, max: number, tls = false, observe: (limit: LimitName) => void = () => {}): void {
  if (max <= 0) return;
  let open = 0;
  const http = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    if (open >= max) {
      observe("connections");
      socket.on("error", () => {});
      // Over TLS no handshake has happened: plain text would reach the client as garbage.
      if (tls) return void socket.destroy();
      socket.end("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", () => socket.destroy());
      return;
    }
    open += 1;
    socket.once("close", () => {
      open -= 1;
    });
    for (const listener of http) listener.call(server, socket);
  });
}
