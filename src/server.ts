import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Config } from "./config/schema.js";
import { parseListen } from "./config/units.js";
import { addAcceptHandles, type AcceptHandles } from "./http/accept-handles.js";
import { createApp } from "./http/app.js";
import { capConnections, createRequestLimiter } from "./http/limits.js";
import { createMetrics } from "./http/metrics.js";
import { relieveAfterBursts } from "./http/memory-relief.js";
import type { Logger } from "./logger.js";
import { createPeriodicJob } from "./periodic-job.js";
import { gcSummary } from "./registry/gc.js";
import type { Registry } from "./registry/registry.js";
import { retentionSummary } from "./registry/retention.js";
import { countUsers } from "./storage/create-stores.js";
import { ConfigError } from "./config/load.js";
import { checkDirectories, checkListen, listenError, loadTlsMaterial } from "./preflight.js";
import { openBerthServices, type BerthServices } from "./compose.js";
import { createAccess } from "./http/access.js";
import { hostname, tmpdir } from "node:os";
import { randomUUID } from "node:crypto";
import { createDispatcher, type Dispatcher } from "./notify/dispatcher.js";
import { createWebhookOps } from "./notify/ops.js";
import type { Origin } from "./registry/events.js";
import { createPullThrough } from "./proxy/pull-through.js";
import { join } from "node:path";
import { checkSupplyFiles, createSupplyChain, type SupplyChain } from "./supply/supply-chain.js";
import { berthVersion } from "./version.js";
import { createUiAssets } from "./http/ui-assets.js";

/** What periodic jobs change is the schedule's doing, whoever started the process. */
const SCHEDULE: Origin = { actor: "schedule" };

/** A configured Berth: stores opened, HTTP server built, not yet listening. */
export interface Berth {
  /** What the composition root opened: the registry, access control, subscribers. */
  readonly services: BerthServices;
  readonly registry: Registry;
  /** Signatures, SBOMs (generated in the background), vulnerabilities and secrets (supply/supply-chain.ts). */
  readonly supply: SupplyChain;
  readonly server: Server;
  /** Starts listening; resolves with the bound address (port 0 in the config picks a free one). */
  start(): Promise<AddressInfo>;
  /** Stops accepting, drains in-flight requests up to the shutdown timeout, then closes the stores. */
  stop(): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/**
 * A registry holding users must not open up because `auth.enabled` was left out: refused unless
 * access control is written as off, which is then warned about at start and in /readyz.
 */
async function checkAccessControl(config: Config, logger: Logger): Promise<string[]> {
  if (config.auth.enabled) return [];
  const users = await countUsers(config);
  if (users === 0) return [];
  if (!config.auth.enabledExplicitly) {
    throw new ConfigError(`this registry holds access-control data (${users} user${users === 1 ? "" : "s"}) but access control is not turned on; start with BERTH_AUTH=on (or --auth on, auth.enabled: true), or run it open to anyone knowingly with --auth off (BERTH_AUTH=off, auth.enabled: false)`);
  }
  const warning = `ACCESS CONTROL IS OFF although this registry holds ${users} user${users === 1 ? "" : "s"}: every repository, private ones included, is open to anyone who can reach it`;
  logger.warn(warning, { setting: "auth.enabled: false" });
  return [warning];
}

/**
 * Checks the configuration against the machine (TLS files, the listen address, directories,
 * databases, existing access-control data) before anything is created, then opens, or on the
 * first start creates, the registry. Every failure is a ConfigError of one line.
 */
export async function createBerth(config: Config, logger: Logger): Promise<Berth> {
  const listen = parseListen(config.listen)!;
  const tlsMaterial = loadTlsMaterial(config);
  const tls = tlsMaterial !== undefined;
  await checkListen(listen.host, listen.port, config.listen);
  checkDirectories(config);
  const warnings = await checkAccessControl(config, logger);
  await checkSupplyFiles(config);
  const services = await openBerthServices(config, { create: true, auth: "configured", logger });
  const { registry } = services;
  let supply: SupplyChain;
  try {
    const secrets = services.secrets;
    supply = await createSupplyChain({ registry, config, logger, ...(secrets ? { secrets } : {}), background: true, tool: { name: "berth", version: berthVersion() } });
  } catch (err) {
    await services.close();
    throw err;
  }
  const { endpoints } = config.notifications;
  const webhooks = createWebhookOps({ store: registry.stores.metadataStore, endpoints });
  const metrics = createMetrics({ registry, storageRefreshMs: config.metrics.storageRefresh, logger, ...(endpoints.length > 0 ? { webhooks } : {}) });
  const pullOnly = !services.auth && !isLoopback(listen.host) && !config.auth.allowAnonymousPush;
  if (services.auth && !tls && !isLoopback(listen.host)) {
    logger.warn("PASSWORDS OVER PLAIN HTTP: access control is on and Berth listens on a non-loopback address without TLS; use --tls-cert/--tls-key or a TLS proxy", { listen: config.listen });
  }
  if (pullOnly) logger.warn("no access control on a non-loopback address: anonymous users may only pull (set auth.enabled, or auth.allowAnonymousPush)");
  let draining = false;
  let acceptHandles: AcceptHandles | undefined;
  const { limits } = config;
  // Uploads of many GiB can take long: no overall request deadline (slow bodies are cut by rate,
  // http/limits.ts), but headers must come promptly. Node checks that deadline every
  // connectionsCheckingInterval, so the check runs often enough for a 408 close to the deadline.
  const serverOptions = {
    requestTimeout: 0,
    headersTimeout: limits.headerTimeout,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, (limits.headerTimeout || 1000) / 4)),
    keepAliveTimeout: 65_000,
  };
  const { upstreams } = config.proxy;
  const proxy = upstreams.length === 0 ? undefined : createPullThrough({
    registry,
    upstreams,
    spoolDir: config.proxy.spoolDir ?? (config.storage.driver === "filesystem" ? join(config.storage.path ?? config.data, "proxy-spool") : join(tmpdir(), `berth-proxy-spool-${process.pid}`)),
    durable: config.storage.driver === "filesystem" && config.storage.fsync,
    logger,
    observer: metrics.proxy,
  });
  if (proxy) logger.info("pull-through cache", { upstreams: upstreams.map((u) => `${u.name} ${new URL(u.url).origin}${u.default ? " (default)" : ""}`) });
  const cacheRepositoryOf = proxy && (async (name: string) => {
    const resolution = await proxy.resolve(name, undefined);
    return resolution.kind === "proxy" && resolution.target.local !== name ? resolution.target.local : undefined;
  });
  const access = createAccess(services.auth, { tls, pullOnly, ...(cacheRepositoryOf ? { cacheRepositoryOf } : {}) });
  const limiter = createRequestLimiter(limits, logger, metrics.observeLimit);
  const ui = config.ui.enabled ? createUiAssets() : undefined;
  if (ui && !ui.built) logger.warn("the web UI is not built: /ui/ answers 404 until `npm run build:ui` has run");
  const app = createApp({ registry, logger, isDraining: () => draining, warnings, metrics, webhooks, ...access, ...(proxy ? { proxy } : {}), supply, limiter, ...(ui ? { ui } : {}) });
  const server: Server = tlsMaterial ? createHttpsServer({ ...serverOptions, ...tlsMaterial }, app) : createServer(serverOptions, app);
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      metrics.observeLimit("header_timeout");
      logger.info("closed slow client", { remote: (socket as Socket).remoteAddress, reason: "headers not complete in time", timeout_ms: limits.headerTimeout });
      if (socket.writable) socket.end("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    logger.debug("client error", { error: err.message });
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
  capConnections(server, limits.maxConnections, tls, metrics.observeLimit);
  const stopRelief = relieveAfterBursts(server);
  const purge = createPeriodicJob(logger, "upload purge", async () => {
    const purged = await registry.uploads.purgeStale();
    if (purged > 0) logger.info("purged expired uploads", { count: purged });
  });
  // Collections and retention: every node tries, a lock lets one run at a time, the others skip quietly.
  const collect = createPeriodicJob(logger, "garbage collection", async (signal) => {
    const report = await registry.gc.run({ signal, origin: SCHEDULE });
    if (report.skipped) logger.debug("garbage collection skipped", { reason: report.skipped });
    else logger.info("garbage collection", gcSummary(report));
  });
  const retain = createPeriodicJob(logger, "retention", async () => {
    const report = await registry.retention.run({ origin: SCHEDULE });
    if (report.skipped) logger.debug("retention skipped", { reason: report.skipped });
    else logger.info("retention", retentionSummary(report));
  });

  // Every node delivers (leases keep two from sending one delivery at once); each commit nudges its loops.
  let dispatcher: Dispatcher | undefined;
  let unsubscribe = () => {};
  const startDelivery = (port: number) => {
    if (endpoints.length === 0) return;
    dispatcher = createDispatcher({
      store: registry.stores.metadataStore,
      endpoints,
      logger,
      instanceId: randomUUID(),
      render: {
        ...(config.notifications.publicUrl ? { publicUrl: config.notifications.publicUrl } : {}),
        scheme: tls ? "https" : "http",
        source: { addr: `${hostname()}:${port}`, instanceID: randomUUID() },
      },
      eventRetentionMs: config.notifications.eventRetention,
      onAttempt: metrics.observeWebhookAttempt,
    });
    const nudge = dispatcher.nudge;
    unsubscribe = registry.events.subscribe(() => nudge());
    dispatcher.start();
  };

  return {
    services,
    registry,
    supply,
    server,
    async start() {
      await new Promise<void>((resolve, reject) => {
        const failed = (err: Error) => reject(listenError(err, config.listen));
        server.once("error", failed);
        // Node's default accept queue (511) overflows when a deploy storm connects at once; Go's
        // servers (distribution) ask for 4096. The kernel caps it at net.core.somaxconn.
        server.listen({ port: listen.port, host: listen.host, backlog: 4096 }, () => {
          server.off("error", failed);
          resolve();
        });
      });
      acceptHandles = await addAcceptHandles(server, limits.acceptHandles - 1, logger);
      purge.start(config.uploads.purgeInterval, true);
      if (config.gc.schedule !== "off") collect.start(config.gc.schedule);
      if (config.retention.schedule !== "off") retain.start(config.retention.schedule);
      const address = server.address() as AddressInfo;
      startDelivery(address.port);
      return address;
    },
    async stop() {
      stopRelief();
      draining = true;
      // Background runs stop between batches while requests drain; the stores close after both.
      const jobsStopped = Promise.all([purge.stop(), collect.stop(), retain.stop()]);
      const closed = Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), acceptHandles?.close()]);
      // Keep-alive connections finish their current response, then must not linger until the timeout.
      server.closeIdleConnections();
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      let timer: NodeJS.Timeout | undefined;
      const deadline = Date.now() + config.shutdown.timeout;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), config.shutdown.timeout);
      });
      if (await Promise.race([closed.then(() => false), timedOut])) {
        logger.warn("shutdown timeout reached; closing remaining connections");
        server.closeAllConnections();
        await closed;
      }
      clearTimeout(timer);
      // A handler whose client is gone may still wait on a store: the stores close once it ends, or at the deadline (1 s at least).
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([app.settled(), new Promise((resolve) => (grace = setTimeout(resolve, Math.max(1000, deadline - Date.now()))))]);
      clearTimeout(grace);
      clearInterval(reaper);
      await jobsStopped;
      unsubscribe();
      await dispatcher?.stop();
      proxy?.close();
      await supply.close();
      await services.close();
    },
  };
}
