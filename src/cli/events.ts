import { openBerthServices } from "../compose.js";
import { cliLogger } from "./cli-logger.js";
import type { Config } from "../config/schema.js";
import { createWebhookOps, describeDelivery, describeHealth } from "../notify/ops.js";
import { UsageError } from "./usage-error.js";

export type EventsCommandName = "events list" | "events endpoints" | "events replay";

export interface EventsFlags {
  endpoint?: string;
  failed?: boolean;
  limit?: number;
  after?: number;
  /** Epoch ms. */
  since?: number;
  from?: string;
}

const lines = (rows: Record<string, unknown>[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join("");

/**
 * `berth events list|endpoints|replay`: webhook deliveries in the registry's outbox, read and
 * replayed through notify/ops.ts (the same operations as /api/v1/events), beside running servers:
 * they deliver what replay makes pending at their next poll. Lists are one JSON object a line.
 * Replay needs exactly one of --since and --from (never "everything"); an endpoint the
 * configuration does not name is refused (exit 2).
 */
export async function eventsCommand(config: Config, command: EventsCommandName, flags: EventsFlags): Promise<number> {
  if (command === "events replay" && (flags.since === undefined) === (flags.from === undefined)) {
    throw new UsageError("events replay: give exactly one of --since TIME and --from EVENT-ID (see berth events replay --help)");
  }
  const services = await openBerthServices(config, { logger: cliLogger });
  const ops = createWebhookOps({ store: services.registry.stores.metadataStore, endpoints: config.notifications.endpoints });
  const out = (text: string) => process.stdout.write(text);
  try {
    switch (command) {
      case "events endpoints":
        out(lines((await ops.health()).map(describeHealth)));
        return 0;
      case "events list": {
        const deliveries = await ops.list({
          limit: flags.limit ?? 100,
          ...(flags.endpoint !== undefined ? { endpoint: flags.endpoint } : {}),
          ...(flags.failed ? { failed: true } : {}),
          ...(flags.after !== undefined ? { afterSeq: flags.after } : {}),
        });
        out(lines(deliveries.map(describeDelivery)));
        return 0;
      }
      case "events replay": {
        const report = await ops.replay({
          endpoint: flags.endpoint ?? "",
          ...(flags.since !== undefined ? { since: flags.since } : {}),
          ...(flags.from !== undefined ? { from: flags.from } : {}),
        });
        out(`replayed ${report.replayed} deliveries to ${report.endpoint} (of ${report.events} events looked at); running servers send them within seconds\n`);
        return 0;
      }
    }
  } finally {
    await services.close();
  }
}
