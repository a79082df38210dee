/**
 * CPU per request of the per-request metrics hook alone, in process: `routeKindOf` (of the route
 * the request handler parsed for dispatch), `startRequest` and its `finished` callback (latency timer, request and
 * byte counters, in-flight gauge), on manifest paths. Compare with the server CPU per manifest
 * request that bench/metrics-ab.ts measures (~50 µs) to see what share the hook is.
 *
 *   npx tsc -p . && node dist/bench/metrics-hook-cost.js
 */
import { createMetrics, routeKindOf } from "../src/http/metrics.js";
import { parseV2Path } from "../src/http/routes.js";
import type { Registry } from "../src/registry/registry.js";

// createMetrics only subscribes to GC and retention runs and reads the store at scrape time.
const registry = { gc: { onRun() {}, stats: () => ({}) }, retention: { onRun() {} }, stores: { metadataStore: {} } } as unknown as Registry;
const metrics = createMetrics({ registry, storageRefreshMs: 30_000 });
const paths = ["/v2/bench/app/manifests/latest", `/v2/bench/app/manifests/sha256:${"8e44".repeat(16)}`];

const routes = paths.map((p) => parseV2Path(p));

function cost(label: string, fn: (i: number) => void, n = 1_000_000): void {
  for (let i = 0; i < 100_000; i++) fn(i);
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn(i);
  const c = process.cpuUsage(t0);
  console.log(`| ${label} | ${((c.user + c.system) / n).toFixed(2)} |`);
}

console.log("| per request | µs CPU |\n|---|---|");
for (let round = 0; round < 3; round++) {
  cost("parseV2Path (done once per request, for dispatch too)", (i) => parseV2Path(paths[i & 1]!));
  cost("routeKindOf of a parsed route", (i) => routeKindOf(paths[i & 1]!, routes[i & 1]));
  cost("startRequest + finished", (i) => metrics.startRequest(i & 1 ? "GET" : "HEAD", "manifest")({ status: 200, bytesIn: 0, bytesOut: 1234 }));
  cost("routeKindOf + startRequest + finished", (i) =>
    metrics.startRequest(i & 1 ? "GET" : "HEAD", routeKindOf(paths[i & 1]!, routes[i & 1]))({ status: 200, bytesIn: 0, bytesOut: 1234 }),
  );
}
