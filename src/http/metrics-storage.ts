import { Gauge, type Registry as PromRegistry } from "prom-client";
import type { Logger } from "../logger.js";
import type { StorageTotals, UsageStore } from "../storage/usage-store.js";

/** What the storage gauges read, and how often they re-read it. */
export interface StorageGaugeOptions {
  store: Pick<UsageStore, "storageTotals">;
  /** Recount at most this often; 0 recounts on every scrape. */
  refreshMs: number;
  logger?: Logger;
}

/**
 * Gauges of what the registry stores, from `UsageStore.storageTotals` (the database's numbers, so
 * every node sharing it reports the same registry-wide values). A scrape never waits for a count
 * once one exists: a stale one is served while a single background recount runs, so scrapes cost
 * at most one count per `refreshMs` however often they come.
 */
export function createStorageGauges(register: PromRegistry, { store, refreshMs, logger }: StorageGaugeOptions) {
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [register] });
  const gauges: Record<keyof StorageTotals, Gauge> = {
    blobs: gauge("berth_storage_blobs", "Distinct blobs stored (shared ones once), referenced or not."),
    blobBytes: gauge("berth_storage_blob_bytes", "Total size of the blobs stored."),
    repositories: gauge("berth_storage_repositories", "Repositories."),
    manifests: gauge("berth_storage_manifests", "Manifests, over all repositories."),
    manifestBytes: gauge("berth_storage_manifest_bytes", "Total size of the manifests stored."),
    tags: gauge("berth_storage_tags", "Tags, over all repositories."),
  };
  const refreshed = gauge("berth_storage_refresh_timestamp_seconds", "When the storage gauges were last counted (Unix time); 0 before the first count.");
  const failures = gauge("berth_storage_refresh_failures", "Consecutive failed recounts of the storage gauges (the database did not answer); 0 when the last one worked.");

  let countedAt: number | undefined;
  let failed = 0;
  let running: Promise<void> | undefined;

  function recount(): Promise<void> {
    running ??= store
      .storageTotals()
      .then((totals) => {
        for (const key of Object.keys(gauges) as (keyof StorageTotals)[]) gauges[key].set(totals[key]);
        countedAt = Date.now();
        failed = 0;
        refreshed.set(countedAt / 1000);
      })
      .catch((err: unknown) => {
        failed++;
        logger?.warn("metrics: counting stored blobs, tags and manifests failed", { error: String(err) });
      })
      .finally(() => {
        failures.set(failed);
        running = undefined;
      });
    return running;
  }

  return {
    /** Brings the gauges up to date as the refresh interval allows; waits only when there is nothing to show yet. */
    async update(): Promise<void> {
      const stale = countedAt === undefined || Date.now() - countedAt >= refreshMs;
      if (!stale) return;
      const pending = recount();
      if (countedAt === undefined || refreshMs === 0) await pending;
    },
  };
}
