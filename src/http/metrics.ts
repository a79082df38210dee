import type { Registry } from "../registry/registry.js";

/**
 * `/metrics` in the Prometheus text format: garbage collection totals since the process started
 * (each node reports its own sweeps) and the process's memory.
 */
export function renderMetrics(registry: Registry): Buffer {
  const gc = registry.gc.stats();
  const lines: string[] = [];
  const metric = (name: string, type: "counter" | "gauge", help: string, value: number) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  metric("berth_gc_runs_total", "counter", "Garbage collections this process completed (dry runs and skipped runs excluded).", gc.runs);
  metric("berth_gc_manifests_deleted_total", "counter", "Manifests garbage collection deleted.", gc.manifestsDeleted);
  metric("berth_gc_blobs_deleted_total", "counter", "Blobs garbage collection deleted.", gc.blobsDeleted);
  metric("berth_gc_bytes_reclaimed_total", "counter", "Bytes of blobs garbage collection deleted.", gc.bytesReclaimed);
  if (gc.last) {
    metric("berth_gc_last_duration_seconds", "gauge", "Duration of the last completed garbage collection.", gc.last.durationMs / 1000);
    metric("berth_gc_last_run_timestamp_seconds", "gauge", "When the last garbage collection finished (Unix time).", gc.last.finishedAt / 1000);
  }
  metric("berth_process_resident_memory_bytes", "gauge", "Resident memory of this process.", process.memoryUsage.rss());
  return Buffer.from(`${lines.join("\n")}\n`);
}
