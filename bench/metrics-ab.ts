/**
 * A/B of the per-request Prometheus metrics (src/http/metrics.ts: a request counter, a latency
 * histogram, byte counters and in-flight gauges fed by every request, plus prom-client's Node
 * process metrics): Berth built from this tree (B) against Berth built from another tree (A; the
 * commit before the metrics, a94b014), each a real `berth serve` on loopback, fsync off, no auth.
 *
 * Every round starts a fresh server from each tree in turn (A then B in odd rounds, B then A in
 * even ones), on a fresh data directory with the same data (one small image every manifest
 * request reads), and runs on it, with the bench's own workload functions (bench/workloads.ts,
 * one copy for both sides, so the client is identical):
 * - a 1 s unmeasured warm-up (manifest GET by tag), then the manifest workload: GET and HEAD, by
 *   tag and by digest, 64 connections, `--seconds` each: requests/s, p50, p99;
 * - the small-image push workload: `--images` images (config + one 4 KiB layer, 5 requests each),
 *   16 at a time: images/s and requests/s;
 * - server CPU (user+system from /proc) per 1000 requests of each workload, and peak RSS (VmHWM)
 *   once the round's workloads are done.
 * In the last round, halfway through B's manifest GET-by-tag load, it scrapes B's /metrics once
 * (status, time, size), and after B's workloads it compares B's request counter with what the
 * client sent. It prints medians, per-round ranges and the median of per-round B/A ratios, and
 * writes them to bench/results/metrics-ab-latest.md.
 *
 * Each side's server is started by that tree's own bench/servers.js (startBerthServer), so each
 * runs its own bin/berth.js and dist/. Build both trees first:
 *
 *   git worktree add ../bench-old a94b014 --detach && cp -a node_modules ../bench-old/ && (cd ../bench-old && npx tsc -p .)
 *   npm run bench:metrics-ab -- --old ../bench-old [--old-label TEXT] [--rounds 8] [--seconds 3] [--images 200]
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { makeImage } from "../test/helpers/fixtures.js";
import {
  MANIFEST_ACCEPT,
  machineFacts,
  measureManifests,
  measureSmallPushes,
  parseAbArgs,
  recordPeakRss,
  runAb,
  Samples,
  sh,
  withServer,
  type AbOptions,
  type ManifestRow,
  type Side,
} from "./ab-harness.js";
import * as newServers from "./servers.js";
import { closeAgent, manifestLoad, pushImage } from "./workloads.js";

type Servers = typeof newServers;

interface Options extends AbOptions {
  old: string;
  /** Column label of the --old side. */
  oldLabel: string;
}

const USAGE = "metrics-ab --old DIR [--old-label TEXT] [--rounds N] [--seconds S] [--images N]";
const opts = parseAbArgs<Options>(process.argv.slice(2), { old: "", oldLabel: "before metrics", rounds: 8, seconds: 3, images: 200 }, USAGE, (o, a, v) => {
  if (a === "--old" && v) o.old = resolve(v);
  else if (a === "--old-label" && v) o.oldLabel = v;
  else return false;
  return true;
});
if (!opts.old) {
  console.error("metrics-ab: --old DIR (a built worktree of the commit to compare with) is required");
  process.exit(2);
}
const oldServersJs = join(opts.old, "dist/bench/servers.js");
if (!existsSync(oldServersJs)) {
  console.error(`metrics-ab: ${oldServersJs} not found; build that tree first (npx tsc -p .)`);
  process.exit(2);
}
const oldServers = (await import(pathToFileURL(oldServersJs).href)) as Servers;

const here = fileURLToPath(new URL("../..", import.meta.url));
const sides = [
  { key: "A", label: `A: ${sh("git", ["rev-parse", "--short", "HEAD"], opts.old) || opts.old} (${opts.oldLabel})`, servers: oldServers },
  { key: "B", label: `B: ${sh("git", ["rev-parse", "--short", "HEAD"], here)} (metrics)`, servers: newServers },
] as const satisfies readonly [Side & { servers: Servers }, Side & { servers: Servers }];

const ROWS: readonly ManifestRow[] = [
  { name: "manifest GET by tag", method: "GET", byDigest: false },
  { name: "manifest GET by digest", method: "GET", byDigest: true },
  { name: "manifest HEAD by tag", method: "HEAD", byDigest: false },
  { name: "manifest HEAD by digest", method: "HEAD", byDigest: true },
];

const samples = new Samples();
const notes: string[] = [];

async function runSide(round: number, side: (typeof sides)[number]): Promise<void> {
  await withServer(
    () => side.servers.startBerthServer(side.label, { BERTH_FSYNC: "false" }),
    async (s) => {
      const app = makeImage({ layers: [Buffer.from("berth bench app layer\n")] });
      await pushImage(s.url, "bench/app", "latest", app);
      await manifestLoad(`${s.url}/v2/bench/app/manifests/latest`, "GET", MANIFEST_ACCEPT, 1, 64);

      const last = side.key === "B" && round === opts.rounds;
      const m = await measureManifests(samples, side, s, {
        repo: "bench/app",
        tag: "latest",
        digest: app.manifestDigest,
        rows: ROWS,
        seconds: opts.seconds,
        during: (row) => (last && row === ROWS[0] ? scrapeMidway(s.url, opts.seconds / 2) : undefined),
      });
      samples.record("manifest, all four (req/s)", side.key, m.requests / m.seconds);
      samples.record("manifest: server CPU s per 1000 requests", side.key, (m.cpu * 1000) / m.requests);
      await measureSmallPushes(samples, side, s, { repo: "bench/small", prefix: `r${round}`, images: opts.images });
      const rss = recordPeakRss(samples, side, s);
      console.error(`  ${side.label}: CPU ms/request manifest ${((m.cpu * 1000) / m.requests).toFixed(3)}; peak RSS ${rss.toFixed(0)} MiB`);
      if (last) await checkCounts(s.url, m.sent);
    },
  );
}

/** One /metrics scrape `delay` seconds into a load: status, time, size, and that HTTP series are in it. */
async function scrapeMidway(url: string, delay: number): Promise<void> {
  await new Promise((r) => setTimeout(r, delay * 1000));
  const t0 = performance.now();
  const res = await fetch(`${url}/metrics`);
  const body = await res.text();
  const ms = performance.now() - t0;
  const series = body.split("\n").filter((l) => l && !l.startsWith("#")).length;
  const ok = res.status === 200 && body.includes('berth_http_requests_total{method="GET",route="manifest",status="200"}');
  notes.push(
    `- /metrics scraped once under load (round ${opts.rounds}, B, halfway through manifest GET by tag, 64 connections busy): ` +
      `HTTP ${res.status}, ${res.headers.get("content-type")}, ${(body.length / 1024).toFixed(1)} KiB, ${series} samples, ${ms.toFixed(1)} ms; ` +
      `manifest GET counter present: ${ok ? "yes" : "NO"}`,
  );
  console.error(notes.at(-1));
}

/** After B's last round: do the counters agree with what the client sent? */
async function checkCounts(url: string, sent: { GET: number; HEAD: number }): Promise<void> {
  const body = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp) => body.split("\n").filter((l) => re.test(l)).reduce((n, l) => n + Number(l.split(" ").pop()), 0);
  const get = value(/^berth_http_requests_total\{method="GET",route="manifest",status="200"\}/);
  const head = value(/^berth_http_requests_total\{method="HEAD",route="manifest",status="200"\}/);
  const hist = value(/^berth_http_request_duration_seconds_count\{method="GET",route="manifest"\}/);
  // the client also sent the 1 s warm-up (GET by tag), not counted in `sent`
  notes.push(
    `- B's counters after its last round: manifest GET 200 = ${get} (client sent ${sent.GET} measured + pool warm-ups, plus the 1 s warm-up), ` +
      `HEAD 200 = ${head} (client sent ${sent.HEAD}); latency histogram count for GET manifest = ${hist}`,
  );
  console.error(notes.at(-1));
}

function render(started: Date): string {
  const lines = [
    "# Per-request metrics A/B",
    "",
    `- command: \`npm run bench:metrics-ab -- ${process.argv.slice(2).join(" ")}\``,
    `- date: ${started.toISOString()} to ${new Date().toISOString()}`,
    `- machine: ${machineFacts()}`,
    `- ${sides[0].label} vs ${sides[1].label}; berth serve, fsync off, no auth, fresh data directory per server per round`,
    `- ${opts.rounds} rounds, A then B in odd rounds, B then A in even ones; manifest workload ${opts.seconds} s per row at 64 connections after a 1 s warm-up; ${opts.images} small images 16 at a time`,
    "- each cell: median over rounds (min–max over rounds); B/A: median of the per-round ratios (min–max)",
    ...notes,
    "",
    ...samples.table(`A (${opts.oldLabel})`, "B (metrics)"),
  ];
  return lines.join("\n");
}

await runAb({ name: "metrics-ab", rounds: opts.rounds, sides, runSide, render, resultFile: "metrics-ab-latest.md", cleanup: async () => closeAgent() });
