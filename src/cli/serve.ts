import type { Config } from "../config/schema.js";
import { createLogger } from "../logger.js";
import { createBerth } from "../server.js";

/** `berth serve`: starts the registry and stops it gracefully on SIGTERM/SIGINT (a second signal exits at once). */
export async function serve(config: Config, version: string): Promise<void> {
  const logger = createLogger({ level: config.log.level });
  // Process warnings (the AWS SDK's Node version notice, say) go to the JSON log, not raw to stderr.
  process.removeAllListeners("warning");
  process.on("warning", (w) => logger.warn("process warning", { name: w.name, warning: w.message }));
  const berth = await createBerth(config, logger);
  const address = await berth.start();
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      logger.warn("second signal, exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info("shutting down", { signal });
    berth.stop().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error("shutdown failed", { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  // Announced only once the signal handlers are in place: whoever waits for this line may stop us at once.
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  // Operators need the address and data directory whatever the level: only `silent` hides them.
  const announce = config.log.level === "silent" ? logger : createLogger({ level: "info" });
  announce.info("berth started", { listen: `http://${host}:${address.port}`, data: config.data, version });
}
