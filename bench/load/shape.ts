/**
 * The storm's shape: how many connections of each kind, for how long. `full` is issue 15's
 * 2,000 connections; `quick` is the CI size; any count can be overridden by a flag.
 */

/** Connections of each kind and the storm's bounds. */
export interface StormShape {
  /** Keep-alive connections that send one GET /v2/ and then sit idle. */
  idle: number;
  /** Connections trickling request headers one byte a second, never finishing them. */
  slowHeaders: number;
  /** Connections that start an upload PATCH and trickle its body one byte a second. */
  slowBodies: number;
  /** Connections that GET `readerBlobBytes` of blob and then read nothing (the TCP window closes). */
  slowReaders: number;
  readerBlobBytes: number;
  /** Concurrent chunked pushers (POST, PATCH chunks, PUT, manifest PUT), in a loop. */
  pushers: number;
  /** Well-behaved pullers (manifest GET + blob GET of a pre-pushed image), in a loop. */
  pullers: number;
  /** How long the storm runs. */
  durationMs: number;
  /** PATCH chunks per push and their size. */
  chunks: number;
  chunkBytes: number;
  /** Size of the pre-pushed layer the pullers fetch. */
  layerBytes: number;
  /** Shutdown timeout given to both servers (Berth `shutdown.timeout`, distribution `http.draintimeout`). */
  shutdownTimeoutMs: number;
  /** Per-request deadline of well-behaved clients; a request over it counts as a `timeout` error. */
  requestTimeoutMs: number;
}

/** Splits `connections` like the issue does (1,000 / 300 / 200 / rest out of 2,000), 5 % of them slow readers. */
export function createShape(connections: number, durationMs: number, overrides: Partial<StormShape> = {}): StormShape {
  const idle = Math.round(connections * 0.5);
  const slow = Math.round(connections * 0.15);
  const pushers = Math.round(connections * 0.1);
  const slowHeaders = Math.floor(slow / 2);
  const slowReaders = overrides.slowReaders ?? Math.round(connections * 0.05);
  return {
    idle,
    slowHeaders,
    slowBodies: slow - slowHeaders,
    pushers,
    slowReaders,
    readerBlobBytes: 8 * 1024 * 1024,
    pullers: Math.max(1, connections - idle - slow - pushers - slowReaders),
    durationMs,
    chunks: 3,
    chunkBytes: 64 * 1024,
    layerBytes: 256 * 1024,
    shutdownTimeoutMs: 30_000,
    requestTimeoutMs: 30_000,
    ...overrides,
  };
}

export const FULL = { connections: 2000, durationMs: 120_000 };
export const QUICK = { connections: 200, durationMs: 20_000 };

export function totalConnections(s: StormShape): number {
  return s.idle + s.slowHeaders + s.slowBodies + s.slowReaders + s.pushers + s.pullers;
}
