import { Counter, Gauge, type Registry as PromRegistry } from "prom-client";
import type { ProxyObserver } from "../proxy/pull-through.js";

/**
 * Pull-through cache metrics: answers by upstream, kind and cache result, bytes fetched from
 * each upstream, and the rate limit each upstream last announced (`ratelimit-limit`,
 * `ratelimit-remaining`, as Docker Hub sends them). Plain numbers on the hot path, read at scrape.
 */
export function createProxyMetrics(register: PromRegistry): ProxyObserver {
  const registers = [register];
  const served = new Map<string, { upstream: string; kind: string; result: string; count: number }>();
  const fetched = new Map<string, number>();
  const limits = new Map<string, { limit?: number; remaining?: number }>();
  new Counter({
    name: "berth_proxy_requests_total",
    help: "Reads answered for upstream content, by upstream, kind (manifest, blob, tags, referrers) and cache result (hit, miss, collapsed, revalidated, forwarded, stale).",
    labelNames: ["upstream", "kind", "result"] as const,
    registers,
    collect() {
      this.reset();
      for (const { upstream, kind, result, count } of served.values()) this.inc({ upstream, kind, result }, count);
    },
  });
  new Counter({
    name: "berth_proxy_upstream_bytes_total",
    help: "Blob bytes received from each upstream.",
    labelNames: ["upstream"] as const,
    registers,
    collect() {
      this.reset();
      for (const [upstream, bytes] of fetched) this.inc({ upstream }, bytes);
    },
  });
  for (const [name, which, help] of [
    ["berth_proxy_ratelimit_limit", "limit", "The request limit the upstream last announced (ratelimit-limit)."],
    ["berth_proxy_ratelimit_remaining", "remaining", "The requests the upstream last said remain (ratelimit-remaining)."],
  ] as const) {
    new Gauge({
      name,
      help,
      labelNames: ["upstream"] as const,
      registers,
      collect() {
        this.reset();
        for (const [upstream, seen] of limits) if (seen[which] !== undefined) this.set({ upstream }, seen[which]!);
      },
    });
  }
  return {
    served(upstream, kind, result) {
      const key = `${upstream} ${kind} ${result}`;
      const entry = served.get(key);
      if (entry) entry.count++;
      else served.set(key, { upstream, kind, result, count: 1 });
    },
    fetched(upstream, bytes) {
      fetched.set(upstream, (fetched.get(upstream) ?? 0) + bytes);
    },
    rateLimit(upstream, limit, remaining) {
      const seen = limits.get(upstream) ?? {};
      if (limit !== undefined) seen.limit = limit;
      if (remaining !== undefined) seen.remaining = remaining;
      limits.set(upstream, seen);
    },
  };
}
