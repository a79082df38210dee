import type { IncomingMessage, ServerResponse } from "node:http";
import { RegistryError } from "../oci/errors.js";
import type { Logger } from "../logger.js";
import type { Registry } from "../registry/registry.js";
import type { Handler, RequestContext } from "./context.js";
import { handleBlob } from "./handlers/blobs.js";
import { handleCatalog, handleReferrers, handleTags } from "./handlers/listing.js";
import { handleGcApi } from "./handlers/maintenance.js";
import { handleManifest } from "./handlers/manifests.js";
import { handleUsageApi, USAGE_PREFIX } from "./handlers/usage-api.js";
import { handleRetentionApi } from "./handlers/retention-api.js";
import { handleWebhooksApi, WEBHOOK_PATHS } from "./handlers/webhooks-api.js";
import { createWebhookOps, type WebhookOps } from "../notify/ops.js";
import { countRequestBytes, createMetrics, routeKindOf, type Metrics } from "./metrics.js";
import { handleCatalogApi, isCatalogRequest } from "./handlers/catalog-api.js";
import { handleBrowseApi, isBrowseRequest } from "./handlers/browse-api.js";
import type { CatalogOptions } from "../registry/catalog.js";
import { handleUpload, handleUploads } from "./handlers/uploads.js";
import { hasBody, reply, replyError } from "./respond.js";
import { parseV2Path, type Route } from "./routes.js";
import { createOpenGuard, type Guard, type Need } from "./guard.js";
import { describeIdentity } from "../auth/authorizer.js";
import { randomUUID } from "node:crypto";
import { isIPv6 } from "node:net";
import type { Origin } from "../registry/events.js";
import type { EventRequest } from "../storage/event-store.js";
import type { PullThrough } from "../proxy/pull-through.js";
import { admitThroughCache, handleProxied, isProxiedRead } from "./handlers/proxied.js";
import type { SupplyChain } from "../supply/supply-chain.js";
import { handleScanApi, SCAN_PREFIX } from "./handlers/scan-api.js";
import { handleArtifactApi, isArtifactRequest } from "./handlers/artifact-api.js";
import { BROWSE_NAMESPACES_PATH, handleNamespacesBrowse } from "./handlers/namespaces-browse.js";
import type { RequestLimiter } from "./limits.js";
import { RETRY_AFTER_SECONDS } from "../storage/unavailable.js";
import { handleSessionApi, SESSION_PATH } from "./handlers/session-api.js";
import { checkSameOrigin } from "./session-cookie.js";
import type { UiAssets } from "./ui-assets.js";

export interface AppOptions {
  registry: Registry;
  logger: Logger;
  /** Access control; open (everything allowed) when absent. */
  guard?: Guard;
  /** Served at `/token` and `/.well-known/jwks.json` when access control is on. */
  auth?: {
    tokenEndpoint: (req: IncomingMessage, res: ServerResponse, url: URL, origin: Origin) => Promise<void>;
    jwks: () => Promise<unknown>;
    adminApi: (req: IncomingMessage, res: ServerResponse, url: URL, origin: Origin) => Promise<void>;
    /** What the catalog endpoints read and delete of access control (namespaces, visibility). */
    access?: CatalogOptions["access"];
    /** The web UI's sign-in at /api/v1/session (handlers/session-api.ts). */
    session: (ctx: RequestContext) => Promise<void>;
  };
  /** The web UI at /ui/ (a browser's GET / is sent there); not served when absent. */
  ui?: UiAssets;
  /** Answers /readyz with 503 while true (set during shutdown). */
  isDraining?: () => boolean;
  /** Start-up warnings an operator must see (access control explicitly off over users), repeated in /readyz. */
  warnings?: readonly string[];
  /** Served at /metrics and fed by every request; a fresh set (storage recounted every 30 s) when absent. */
  metrics?: Metrics;
  /** Webhook health, deliveries and replay at /api/v1/webhooks and /api/v1/events; over no configured endpoint when absent. */
  webhooks?: WebhookOps;
  /** The pull-through cache, when upstreams are configured. */
  proxy?: PullThrough;
  /** Signatures, SBOMs, vulnerabilities, secrets: the pull gate on every manifest GET and HEAD, and /api/v1/scan. */
  supply?: SupplyChain;
  /** Request rates, uploads in flight and slow bodies (`limits`); nothing is limited when absent. */
  limiter?: RequestLimiter;
}

/** The request handler; `settled()` resolves once no request is being handled (shutdown closes the stores only then). */
export type App = ((req: IncomingMessage, res: ServerResponse) => Promise<void>) & { settled(): Promise<void> };

type RouteTable = { [K in Route["kind"]]: { methods: string[]; handle: Handler<Extract<Route, { kind: K }>> } };

const ROUTES: RouteTable = {
  base: { methods: ["GET", "HEAD"], handle: async ({ res }) => reply(res, 200, {}, {}) },
  catalog: { methods: ["GET"], handle: handleCatalog },
  tags: { methods: ["GET"], handle: handleTags },
  manifest: { methods: ["GET", "HEAD", "PUT", "DELETE"], handle: handleManifest },
  blob: { methods: ["GET", "HEAD", "DELETE"], handle: handleBlob },
  uploads: { methods: ["POST"], handle: handleUploads },
  upload: { methods: ["GET", "HEAD", "PATCH", "PUT", "DELETE"], handle: handleUpload },
  referrers: { methods: ["GET"], handle: handleReferrers },
};

async function dispatch(ctx: RequestContext, route: Route): Promise<void> {
  const entry = ROUTES[route.kind] as { methods: string[]; handle: Handler<Route> };
  if (!entry.methods.includes(ctx.req.method ?? "")) {
    throw new RegistryError("UNSUPPORTED", `method ${ctx.req.method} not allowed here`, undefined, {
      headers: { Allow: entry.methods.join(", ") },
    });
  }
  await entry.handle(ctx, route);
}

type MaintenanceHandler = (ctx: RequestContext) => Promise<void>;

/** The maintenance endpoints outside /v2/ (each authorizes itself); the rest of /api/v1/ is the admin API. */
function maintenanceRoute(path: string): MaintenanceHandler | undefined {
  if (path === "/api/v1/gc") return handleGcApi;
  if (path === "/api/v1/retention") return handleRetentionApi;
  if (path === USAGE_PREFIX || path.startsWith(`${USAGE_PREFIX}/`)) return handleUsageApi;
  return undefined;
}

/** What a request needs from access control, by route and method. */
function needOf(route: Route, method: string): Need {
  switch (route.kind) {
    case "base":
      return { actions: [] };
    case "catalog":
      return { catalog: true, actions: [] };
    case "uploads":
    case "upload":
      return { repository: route.name, actions: ["pull", "push"] };
    case "manifest":
      // Untagging: delete, or pull and push (whoever may push may already point the tag at anything else).
      if (method === "DELETE" && !route.reference.includes(":")) return { repository: route.name, actions: ["delete"], orActions: ["pull", "push"] };
      if (method === "DELETE") return { repository: route.name, actions: ["delete"] };
      return { repository: route.name, actions: method === "PUT" ? ["pull", "push"] : ["pull"] };
    case "blob":
      if (method === "DELETE") return { repository: route.name, actions: ["delete"] };
      return { repository: route.name, actions: method === "PUT" ? ["pull", "push"] : ["pull"] };
    default:
      return { repository: route.name, actions: ["pull"] };
  }
}

async function health(ctx: RequestContext, draining: boolean, warnings: readonly string[]): Promise<void> {
  if (ctx.url.pathname === "/healthz") return reply(ctx.res, 200, {}, { status: "ok" });
  if (draining) return reply(ctx.res, 503, {}, { status: "draining" });
  const failing = await ctx.registry.ping();
  if (Object.keys(failing).length === 0) return reply(ctx.res, 200, {}, { status: "ready", ...(warnings.length > 0 ? { warnings } : {}) });
  ctx.logger.warn("not ready", { stores: failing });
  // Which store is failing and why, for the operator behind the probe; the body holds no secrets (store errors name no credentials).
  reply(ctx.res, 503, { "Retry-After": String(RETRY_AFTER_SECONDS) }, { status: "unavailable", stores: failing });
}

/** Counts the body bytes handed to the socket, so the access log is right even when the client hangs up early. */
function countBodyBytes(res: ServerResponse): { bytes: number } {
  const counter = { bytes: 0 };
  const size = (chunk: unknown) =>
    typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.byteLength : 0;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    counter.bytes += size(chunk);
    return write(chunk, ...rest);
  }) as ServerResponse["write"];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== "function") counter.bytes += size(chunk);
    return end(chunk, ...rest);
  }) as ServerResponse["end"];
  return counter;
}

/** The request handler: routes, the one error mapper, and one access-log line per request. */
export function createApp(options: AppOptions): App {
  const { registry, logger, isDraining = () => false, guard = createOpenGuard(false), auth, warnings = [], proxy, supply, limiter, ui } = options;
  const pullGate = supply?.pullGate;
  const metrics = options.metrics ?? createMetrics({ registry, storageRefreshMs: 30_000, logger });
  const webhooks = options.webhooks ?? createWebhookOps({ store: registry.stores.metadataStore, endpoints: [] });
  /** Records a refusal by the guard in the audit log; returns the error to throw. */
  async function denied(err: unknown, route: Route, req: IncomingMessage, url: URL, origin: Origin): Promise<unknown> {
    if (guard.enabled && err instanceof RegistryError && err.code === "DENIED") {
      const { events } = registry;
      const need = needOf(route, req.method ?? "GET");
      await events.emit([events.event("auth.denied", { result: "denied", ...(need.repository ? { repository: need.repository } : {}), detail: { method: req.method, path: url.pathname } }, origin)]);
    }
    return err;
  }

  let running = 0;
  const waiting: (() => void)[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    const sent = countBodyBytes(res);
    const received = countRequestBytes(req);
    const url = new URL(req.url ?? "/", "http://berth.invalid");
    // Parsed once, for the metrics label and for dispatch; an invalid name is thrown in the try below.
    let route: Route | undefined;
    let routeError: unknown;
    try {
      route = parseV2Path(url.pathname);
    } catch (err) {
      routeError = err;
    }
    // Read now: once the socket is gone (a hang-up), it no longer tells.
    const remote = req.socket.remoteAddress;
    const finished = metrics.startRequest(req.method, routeKindOf(url.pathname, routeError === undefined ? route : null));
    res.on("close", () => {
      const expected = req.method === "HEAD" ? 0 : Number(res.getHeader("Content-Length") ?? sent.bytes);
      // A client that hung up before any answer got none: 499 ("client closed request", as nginx
      // logs it), not the 200 a response object starts with.
      const status = res.headersSent ? res.statusCode : 499;
      finished({ status, bytesIn: received.bytes, bytesOut: sent.bytes });
      logger.info("request", {
        method: req.method,
        path: req.url,
        status,
        bytes: sent.bytes,
        bytesIn: received.bytes || undefined,
        chunked: req.headers["content-length"] === undefined && req.headers["transfer-encoding"] !== undefined ? true : undefined,
        duration_ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        remote,
        aborted: !res.headersSent || sent.bytes < expected ? true : undefined,
      });
    });
    if (limiter && hasBody(req)) res.once("close", limiter.watchBody(req, received));
    limiter?.watchResponse(res);
    /** Per-user rate and the uploads-in-flight count, once the caller is known. */
    const admit = (r: Route) => {
      if (!limiter) return;
      limiter.admitUser(describeIdentity(ctx.caller.identity));
      const method = req.method ?? "GET";
      if (r.kind === "uploads" || (r.kind === "upload" && (method === "PATCH" || method === "PUT"))) {
        res.once("close", limiter.upload(r.kind === "uploads"));
      }
    };
    const ctx = { req, res, url, registry, logger, guard, caller: { identity: { kind: "anonymous" } }, ...(pullGate ? { pullGate } : {}) } as RequestContext;
    ctx.origin = new RequestOrigin(ctx);
    try {
      if (url.pathname === "/healthz" || url.pathname === "/readyz") return await health(ctx, isDraining(), warnings);
      // Probes and scrapes come from a few known addresses and must not be refused when busy.
      if (url.pathname !== "/metrics") limiter?.admitAddress(req);
      if (auth && url.pathname === "/token") return await auth.tokenEndpoint(req, res, url, ctx.origin);
      if (auth && url.pathname === "/.well-known/jwks.json") return reply(res, 200, {}, await auth.jwks());
      if (url.pathname === "/metrics") {
        const exposition = await metrics.render();
        return reply(res, 200, { "Content-Type": exposition.contentType }, Buffer.from(exposition.body));
      }
      if (ui?.handle(req, res, url)) return;
      checkSameOrigin(req);
      if (url.pathname === SESSION_PATH) return await (auth ? auth.session(ctx) : handleSessionApi(ctx, undefined, false));
      const maintenance = maintenanceRoute(url.pathname);
      if (maintenance) return await maintenance(ctx);
      if (WEBHOOK_PATHS.has(url.pathname)) return await handleWebhooksApi(ctx, webhooks);
      if (isCatalogRequest(req.method, url.pathname)) return await handleCatalogApi(ctx, auth?.access);
      if (url.pathname.startsWith(SCAN_PREFIX)) return await handleScanApi(ctx, supply);
      if (isArtifactRequest(url.pathname)) return await handleArtifactApi(ctx, supply);
      if (isBrowseRequest(url.pathname)) return await handleBrowseApi(ctx, { ...(auth?.access ? { access: auth.access } : {}), ...(supply ? { supply } : {}) });
      if (url.pathname === BROWSE_NAMESPACES_PATH) return await handleNamespacesBrowse(ctx, auth?.access);
      if (auth && url.pathname.startsWith("/api/v1/")) return await auth.adminApi(req, res, url, ctx.origin);
      res.setHeader("Docker-Distribution-Api-Version", "registry/2.0");
      if (isDraining()) res.setHeader("Connection", "close");
      if (routeError !== undefined) throw routeError;
      if (!route) throw new RegistryError("UNSUPPORTED", "no such API endpoint", { path: url.pathname }, { status: 404 });
      if (proxy) {
        const requested = "name" in route ? route.name : "";
        const admitted = await admitThroughCache(ctx, route, proxy, {
          check: async (r) => {
            ctx.caller = await guard.check(req, needOf(r, req.method ?? "GET"), ctx.origin);
          },
          refused: (err, r) => denied(err, r, req, url, ctx.origin),
        });
        admit(admitted.route);
        if (admitted.proxied && isProxiedRead(admitted.route, req.method)) await handleProxied(ctx, admitted.route, admitted.proxied, proxy, requested);
        else await dispatch(ctx, admitted.route);
        return;
      }
      try {
        ctx.caller = await guard.check(req, needOf(route, req.method ?? "GET"), ctx.origin);
      } catch (err) {
        throw await denied(err, route, req, url, ctx.origin);
      }
      admit(route);
      await dispatch(ctx, route);
    } catch (err) {
      await replyError(req, res, err, logger);
    }
  };
  return Object.assign(
    async (req: IncomingMessage, res: ServerResponse) => {
      running += 1;
      try {
        await handle(req, res);
      } finally {
        running -= 1;
        if (running === 0) for (const wake of waiting.splice(0)) wake();
      }
    },
    { settled: () => (running === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve))) },
  );
}

/** `host:port`, an IPv6 address in brackets, as registry:2 writes a request's `addr`. */
const hostPort = (host: string, port: number) => (isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);

/**
 * A request as the cause of what it changes: the caller, once the guard (or an /api/v1 route)
 * knows who that is (anonymous callers, and callers the guard refused, carry no actor), and the
 * request as distribution describes it, built only when an event needs it. A class, not an object
 * literal with a getter and a closure: one is made for every request, reads included, and that
 * literal cost manifest reads a sixth of their CPU (bench:metrics-ab).
 */
class RequestOrigin implements Origin {
  #described: EventRequest | undefined;
  constructor(private readonly ctx: RequestContext) {}

  get actor(): string | undefined {
    return describeIdentity(this.ctx.caller.identity);
  }

  request(): EventRequest {
    const { req } = this.ctx;
    return (this.#described ??= {
      id: randomUUID(),
      addr: hostPort(req.socket.remoteAddress ?? "unknown", req.socket.remotePort ?? 0),
      ...(req.headers.host !== undefined ? { host: req.headers.host } : {}),
      method: req.method ?? "GET",
      ...(req.headers["user-agent"] !== undefined ? { useragent: req.headers["user-agent"] } : {}),
    });
  }
}
