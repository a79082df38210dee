import type { IncomingMessage } from "node:http";
import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "../logger.js";
import type { Registry } from "../registry/registry.js";
import { createStorageGauges } from "./metrics-storage.js";
import { createWebhookMetrics } from "./metrics-webhooks.js";
import { createProxyMetrics } from "./metrics-proxy.js";
import type { ProxyObserver } from "../proxy/pull-through.js";
import type { AttemptReport } from "../notify/dispatcher.js";
import type { WebhookOps } from "../notify/ops.js";
import type { Route } from "./routes.js";
import { berthVersion } from "../version.js";

/**
 * The route label of HTTP metrics: a small fixed set, never a path, so series stay bounded
 * however many repositories, digests and upload ids there are.
 */
export type RouteKind =
  | "base"
  | "blob"
  | "blob_upload"
  | "manifest"
  | "tags"
  | "catalog"
  | "referrers"
  | "token"
  | "api"
  | "health"
  | "metrics"
  | "other";

/**
 * The route kind of a request. `route` is what parseV2Path made of the path (the request handler
 * parses it once, for this and for dispatch): undefined for a path outside /v2, null for a /v2
 * path whose name is invalid.
 */
export function routeKindOf(pathname: string, route: Route | undefined | null): RouteKind {
  if (pathname === "/healthz" || pathname === "/readyz") return "health";
  if (pathname === "/metrics") return "metrics";
  if (pathname === "/token" || pathname === "/.well-known/jwks.json") return "token";
  if (pathname.startsWith("/api/v1/")) return "api";
  if (!route) return "other";
  return route.kind === "uploads" || route.kind === "upload" ? "blob_upload" : route.kind;
}

const METHODS = new Set(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"]);

/** Any other method (clients may send anything) is labelled `other`. */
const methodLabel = (method: string | undefined) => (method && METHODS.has(method) ? method : "other");

/** What the request handler reports when a response is over (the connection closed). */
export interface FinishedRequest {
  /** As logged: 499 when the client hung up before any answer. */
  status: number;
  /** Request body bytes read from the client. */
  bytesIn: number;
  /** Response body bytes handed to the socket. */
  bytesOut: number;
}

export interface Metrics {
  /** Counts a request as in flight from now; call the returned function once when it is over. */
  startRequest(method: string | undefined, route: RouteKind): (finished: FinishedRequest) => void;
  /** Counts one webhook delivery attempt (hand to createDispatcher as `onAttempt`). */
  readonly observeWebhookAttempt: (report: AttemptReport) => void;
  /** Hears the pull-through cache (hand to createPullThrough as `observer`). */
  readonly proxy: ProxyObserver;
  /** Counts a client a limit refused or cut (http/limits.ts), by the limit's name. */
  readonly observeLimit: (limit: LimitName) => void;
  /** The exposition in the Prometheus text format. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** The limits of `limits` (docs/configuration.md) as the `limit` label of `berth_http_limited_total`. */
export type LimitName = "header_timeout" | "idle_body" | "slow_body" | "idle_response" | "slow_response" | "connections" | "uploads" | "rate_address" | "rate_user";

export interface MetricsOptions {
  registry: Registry;
  /** Recount stored blobs, tags and manifests at most this often (config `metrics.storageRefresh`). */
  storageRefreshMs: number;
  logger?: Logger;
  /** Webhook endpoint health for the `berth_webhook_*` gauges; without it (no endpoints configured) there are none. */
  webhooks?: Pick<WebhookOps, "health">;
}

// prom-client's Node metrics (memory, heap, event loop lag, GC pauses) watch the whole process:
// one set per process, however many apps (tests build many) share it.
let processRegister: PromRegistry | undefined;
function processMetrics(): PromRegistry {
  if (!processRegister) {
    processRegister = new PromRegistry();
    collectDefaultMetrics({ register: processRegister, prefix: "berth_" });
    // Gauges named like counters; the same numbers are the sums of the labelled gauges beside them.
    for (const name of ["active_resources_total", "active_handles_total", "active_requests_total"]) {
      processRegister.removeSingleMetric(`berth_nodejs_${name}`);
    }
  }
  return processRegister;
}


const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const RUN_BUCKETS = [0.1, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600];

/** `/metrics`: HTTP traffic, logins, storage, maintenance runs and the process, all named `berth_*`. */
export function createMetrics({ registry, storageRefreshMs, logger, webhooks }: MetricsOptions): Metrics {
  const register = new PromRegistry();
  const registers = [register];

  // The hot path adds to plain numbers; prom-client reads them at scrape time (`collect`). Its own
  // labelled updates hash a label object each, and six of them per request were a fifth of a
  // manifest read's CPU (bench/results/metrics-ab.md). Only the latency histogram is updated live.
  const traffic = new Map<string, { method: string; route: RouteKind; status: string; count: number }>();
  const bytes = new Map<RouteKind, { received: number; sent: number }>();
  let requestsInFlight = 0;
  let uploadsReceiving = 0;

  new Counter({
    name: "berth_http_requests_total",
    help: "HTTP requests answered, by method, route kind and status code (499: the client hung up first).",
    labelNames: ["method", "route", "status"] as const,
    registers,
    collect() {
      this.reset();
      for (const { method, route, status, count } of traffic.values()) this.inc({ method, route, status }, count);
    },
  });
  const limited = new Map<LimitName, number>();
  new Counter({
    name: "berth_http_limited_total",
    help: "Clients a limit refused (429, 408) or cut (a stalled or too slow body), by limit.",
    labelNames: ["limit"] as const,
    registers,
    collect() {
      this.reset();
      for (const [limit, count] of limited) this.inc({ limit }, count);
    },
  });
  const latency = new Histogram({
    name: "berth_http_request_duration_seconds",
    help: "Time from a request's arrival until its connection finished with it, by method and route kind.",
    labelNames: ["method", "route"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  for (const [name, which, help] of [
    ["berth_http_received_bytes_total", "received", "Request body bytes read from clients, by route kind."],
    ["berth_http_sent_bytes_total", "sent", "Response body bytes sent to clients, by route kind."],
  ] as const) {
    new Counter({
      name,
      help,
      labelNames: ["route"] as const,
      registers,
      collect() {
        this.reset();
        for (const [route, totals] of bytes) this.inc({ route }, totals[which]);
      },
    });
  }
  new Gauge({
    name: "berth_http_requests_in_flight",
    help: "Requests this process is handling right now.",
    registers,
    collect() {
      this.set(requestsInFlight);
    },
  });
  new Gauge({
    name: "berth_http_uploads_in_flight",
    help: "Blob upload requests (POST, PATCH, PUT on upload URLs) this process is receiving right now.",
    registers,
    collect() {
      this.set(uploadsReceiving);
    },
  });
  new Gauge({ name: "berth_build_info", help: "Always 1; the label says which Berth version runs.", labelNames: ["version"] as const, registers }).set({ version: berthVersion() }, 1);
  registerEvents(register, registry);
  const storage = createStorageGauges(register, {
    store: registry.stores.metadataStore,
    refreshMs: storageRefreshMs,
    ...(logger ? { logger } : {}),
  });
  const webhookMetrics = webhooks ? createWebhookMetrics(register, { webhooks, ...(logger ? { logger } : {}) }) : undefined;

  const proxy = createProxyMetrics(register);

  const latencyOf = new Map<string, { observe(seconds: number): void }>();
  const finish = (method: string, route: RouteKind, started: number, { status, bytesIn, bytesOut }: FinishedRequest) => {
    const key = `${method} ${route} ${status}`;
    const series = traffic.get(key);
    if (series) series.count++;
    else traffic.set(key, { method, route, status: String(status), count: 1 });
    let totals = bytes.get(route);
    if (!totals) bytes.set(route, (totals = { received: 0, sent: 0 }));
    totals.received += bytesIn;
    totals.sent += bytesOut;
    const timing = `${method} ${route}`;
    let child = latencyOf.get(timing);
    if (!child) latencyOf.set(timing, (child = latency.labels({ method, route })));
    child.observe((performance.now() - started) / 1000);
  };

  return {
    observeLimit: (limit) => void limited.set(limit, (limited.get(limit) ?? 0) + 1),
    startRequest(rawMethod, route) {
      const method = methodLabel(rawMethod);
      const upload = route === "blob_upload" && (method === "POST" || method === "PATCH" || method === "PUT");
      const started = performance.now();
      requestsInFlight++;
      if (upload) uploadsReceiving++;
      let done = false;
      return (finished) => {
        if (done) return;
        done = true;
        requestsInFlight--;
        if (upload) uploadsReceiving--;
        finish(method, route, started, finished);
      };
    },
    observeWebhookAttempt: (report) => webhookMetrics?.observeAttempt(report),
    proxy,
    async render() {
      await Promise.all([storage.update(), webhookMetrics?.update()]);
      const body = (await register.metrics()) + (await processMetrics().metrics());
      return { contentType: register.contentType, body };
    },
  };
}

/**
 * Garbage collection and retention: runs by outcome, their durations, and what collections
 * deleted; credential checks; and every domain event by type. All of it from the registry's event log, so runs
 * started by the API, the schedule or this process's own calls are counted alike.
 */
function registerEvents(register: PromRegistry, registry: Registry): void {
  const registers = [register];
  const runs = {
    "gc.completed": { name: "gc", what: "Garbage collections", lock: " (waiting for the lock included)", outcomes: "completed, aborted, dry_run, skipped: another node held the lock, failed" },
    "retention.completed": { name: "retention", what: "Retention runs", lock: "", outcomes: "completed, dry_run, skipped: another node held the lock, failed" },
  } as const;
  const series = new Map<string, { total: Counter<"outcome">; duration: Histogram<"outcome"> }>();
  for (const [type, { name, what, lock, outcomes }] of Object.entries(runs)) {
    series.set(type, {
      total: new Counter({ name: `berth_${name}_runs_total`, help: `${what} this process ran, by outcome (${outcomes}).`, labelNames: ["outcome"] as const, registers }),
      duration: new Histogram({
        name: `berth_${name}_duration_seconds`,
        help: `Duration of ${what.toLowerCase()} this process ran, by outcome${lock}.`,
        labelNames: ["outcome"] as const,
        buckets: RUN_BUCKETS,
        registers,
      }),
    });
  }
  const manifests = new Counter({ name: "berth_gc_manifests_deleted_total", help: "Manifests garbage collection deleted.", registers });
  const blobs = new Counter({ name: "berth_gc_blobs_deleted_total", help: "Blobs garbage collection deleted.", registers });
  const reclaimed = new Counter({ name: "berth_gc_reclaimed_bytes_total", help: "Bytes of blobs garbage collection deleted.", registers });
  const lastDuration = new Gauge({ name: "berth_gc_last_duration_seconds", help: "Duration of the last completed garbage collection (0 before one).", registers });
  const lastRun = new Gauge({ name: "berth_gc_last_run_timestamp_seconds", help: "When the last completed garbage collection finished (Unix time; 0 before one).", registers });
  const logins = new Counter({
    name: "berth_auth_logins_total",
    help: "Credential checks by outcome (success, failure, throttled) and where they came in (token, refresh, basic).",
    labelNames: ["outcome", "via"] as const,
    registers,
  });
  const byType = new Counter({ name: "berth_events_total", help: "Domain events this process produced (pushes, deletions, runs, refusals…), by type.", labelNames: ["type"] as const, registers });

  registry.events.subscribe((events) => {
    for (const event of events) {
      byType.inc({ type: event.type });
      if (event.type === "auth.login") {
        const { outcome, via } = event.detail as { outcome: string; via: string };
        logins.inc({ outcome, via });
        continue;
      }
      const run = series.get(event.type);
      if (!run) continue;
      const detail = event.detail as { outcome: string; durationMs: number } & Partial<Record<"manifestsDeleted" | "blobsDeleted" | "bytesReclaimed", number>>;
      run.total.inc({ outcome: detail.outcome });
      run.duration.observe({ outcome: detail.outcome }, detail.durationMs / 1000);
      if (event.type !== "gc.completed" || detail.outcome === "dry_run" || detail.outcome === "skipped" || detail.outcome === "failed") continue;
      manifests.inc(detail.manifestsDeleted ?? 0);
      blobs.inc(detail.blobsDeleted ?? 0);
      reclaimed.inc(detail.bytesReclaimed ?? 0);
      lastDuration.set(detail.durationMs / 1000);
      lastRun.set(event.time / 1000);
    }
  });
}

/**
 * Counts request body bytes as the HTTP parser hands them over (chunked bodies included, chunk
 * framing excluded), whether or not a handler reads them; attaches no listener, so the stream's
 * flow is unchanged. A request that has no body (neither Content-Length nor Transfer-Encoding,
 * as HTTP/1.1 defines it: every GET and HEAD of a pull) is left alone, since wrapping `push`
 * gives the request object a shape of its own and measurably slowed manifest reads.
 */
export function countRequestBytes(req: IncomingMessage): { bytes: number } {
  const counter = { bytes: 0 };
  if (req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined) return counter;
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk instanceof Uint8Array) counter.bytes += chunk.byteLength;
    else if (typeof chunk === "string") counter.bytes += Buffer.byteLength(chunk, encoding);
    return push(chunk, encoding);
  };
  return counter;
}
