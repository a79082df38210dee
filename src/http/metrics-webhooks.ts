import { Counter, Gauge, type Registry as PromRegistry } from "prom-client";
import type { Logger } from "../logger.js";
import type { AttemptReport } from "../notify/dispatcher.js";
import type { WebhookOps } from "../notify/ops.js";

export interface WebhookMetricsOptions {
  /** Endpoint health (registry-wide, from the store). */
  webhooks: Pick<WebhookOps, "health">;
  /** Serve the last health read for this long; default 5 s. */
  cacheMs?: number;
  logger?: Logger;
}

/**
 * Webhook metrics: attempts this process made (counted in a plain map as they are reported,
 * turned into the counter at scrape), and per endpoint the backlog, parked deliveries and last
 * success, read from the store's deliveryHealth at scrape time and cached briefly, so a scrape
 * costs at most one health query per `cacheMs` and deliveries never wait for metrics.
 */
export function createWebhookMetrics(register: PromRegistry, { webhooks, cacheMs = 5000, logger }: WebhookMetricsOptions) {
  const registers = [register];
  const attempts = new Map<string, { endpoint: string; outcome: AttemptReport["outcome"]; count: number }>();
  new Counter({
    name: "berth_webhook_deliveries_total",
    help: "Webhook delivery attempts this process made, by endpoint and outcome (delivered; retry: failed, due again; failed: failed and parked).",
    labelNames: ["endpoint", "outcome"] as const,
    registers,
    collect() {
      this.reset();
      for (const { endpoint, outcome, count } of attempts.values()) this.inc({ endpoint, outcome }, count);
    },
  });
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ["endpoint"] as const, registers });
  const backlog = gauge("berth_webhook_backlog", "Deliveries waiting to be made (pending, leased or not), per endpoint; registry-wide.");
  const failed = gauge("berth_webhook_failed", "Deliveries parked after their retry window, per endpoint; registry-wide (berth events replay sends them again).");
  const lastSuccess = gauge("berth_webhook_last_success_timestamp_seconds", "When a delivery to the endpoint last succeeded (Unix time; 0 before one); registry-wide.");

  let readAt: number | undefined;
  let reading: Promise<void> | undefined;
  const read = () =>
    (reading ??= webhooks
      .health()
      .then((rows) => {
        for (const g of [backlog, failed, lastSuccess]) g.reset();
        for (const h of rows) {
          backlog.set({ endpoint: h.endpoint }, h.backlog);
          failed.set({ endpoint: h.endpoint }, h.failed);
          lastSuccess.set({ endpoint: h.endpoint }, (h.lastSuccessAt ?? 0) / 1000);
        }
        readAt = Date.now();
      })
      .catch((err: unknown) => logger?.warn("metrics: reading webhook delivery health failed", { error: String(err) }))
      .finally(() => (reading = undefined)));

  return {
    observeAttempt({ endpoint, outcome }: AttemptReport): void {
      const key = `${endpoint} ${outcome}`;
      const series = attempts.get(key);
      if (series) series.count++;
      else attempts.set(key, { endpoint, outcome, count: 1 });
    },
    /** Brings the gauges up to date when the cached read is older than `cacheMs`. */
    async update(): Promise<void> {
      if (readAt === undefined || Date.now() - readAt >= cacheMs) await read();
    },
  };
}
