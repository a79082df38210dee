import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "./config/schema.js";
import { parseListen } from "./config/units.js";
import { createApp } from "./http/app.js";
import type { Logger } from "./logger.js";
import { createRegistry, type Registry } from "./registry/registry.js";
import { createStores } from "./storage/create-stores.js";

/** A configured Berth: stores opened, HTTP server built, not yet listening. */
export interface Berth {
  readonly registry: Registry;
  readonly server: Server;
  /** Starts listening; resolves with the bound address (port 0 in the config picks a free one). */
  start(): Promise<AddressInfo>;
  /** Stops accepting, drains in-flight requests up to the shutdown timeout, then closes the stores. */
  stop(): Promise<void>;
}

/** Opens the stores named by `config` and builds the registry over them. */
export async function createRegistryFromConfig(config: Config): Promise<Registry> {
  const { blobStore, metadataStore } = await createStores(config);
  return createRegistry({
    blobStore,
    metadataStore,
    options: {
      deleteEnabled: config.delete.enabled,
      anonymousMount: config.mount.anonymous,
      maxManifestSize: config.manifests.maxSize,
      uploadExpiryMs: config.uploads.expiry,
      maxPageSize: config.pagination.maxEntries,
    },
  });
}

export async function createBerth(config: Config, logger: Logger): Promise<Berth> {
  const registry = await createRegistryFromConfig(config);
  let draining = false;
  const server = createServer(
    // Uploads of many GiB can take long: no overall request deadline, but headers must come promptly.
    { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 },
    createApp({ registry, logger, isDraining: () => draining }),
  );
  server.on("clientError", (err, socket) => {
    logger.debug("client error", { error: err.message });
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
  let purgeTimer: NodeJS.Timeout | undefined;
  const purge = async () => {
    try {
      const purged = await registry.uploads.purgeStale();
      if (purged > 0) logger.info("purged expired uploads", { count: purged });
    } catch (err) {
      logger.error("upload purge failed", { error: String(err) });
    }
  };

  return {
    registry,
    server,
    async start() {
      const listen = parseListen(config.listen)!;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(listen.port, listen.host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      void purge();
      purgeTimer = setInterval(purge, Math.max(config.uploads.purgeInterval, 1000));
      purgeTimer.unref();
      return server.address() as AddressInfo;
    },
    async stop() {
      draining = true;
      clearInterval(purgeTimer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections finish their current response, then must not linger until the timeout.
      server.closeIdleConnections();
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), config.shutdown.timeout);
      });
      if (await Promise.race([closed.then(() => false), timedOut])) {
        logger.warn("shutdown timeout reached; closing remaining connections");
        server.closeAllConnections();
        await closed;
      }
      clearTimeout(timer);
      clearInterval(reaper);
      await registry.close();
    },
  };
}
