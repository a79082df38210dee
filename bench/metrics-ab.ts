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
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { makeImage } from "../test/helpers/fixtures.js";
import * as newServers from "./servers.js";
import { closeAgent, manifestLoad, pushImage, pushSmallImages, type LoadResult } from "./workloads.js";

type Servers = typeof newServers;

interface Options {
  old: string;
  /** Column label of the --old side. */
  oldLabel: string;
  rounds: number;
  seconds: number;
  images: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { old: "", oldLabel: "before metrics", rounds: 8, seconds: 3, images: 200 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (a === "--old" && v) o.old = resolve(v);
    else if (a === "--old-label" && v) o.oldLabel = v;
    else if ((a === "--rounds" || a === "--seconds" || a === "--images") && Number(v) > 0) {
      o[a.slice(2) as "rounds" | "seconds" | "images"] = a === "--seconds" ? Number(v) : Math.floor(Number(v));
    } else {
      console.error(`usage: metrics-ab --old DIR [--old-label TEXT] [--rounds N] [--seconds S] [--images N] (bad or unknown argument ${a})`);
      process.exit(2);
    }
  }
  if (!o.old) {
    console.error("metrics-ab: --old DIR (a built worktree of the commit to compare with) is required");
    process.exit(2);
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const oldServersJs = join(opts.old, "dist/bench/servers.js");
if (!existsSync(oldServersJs)) {
  console.error(`metrics-ab: ${oldServersJs} not found; build that tree first (npx tsc -p .)`);
  process.exit(2);
}
const oldServers = (await import(pathToFileURL(oldServersJs).href)) as Servers;

const sh = (cmd: string, args: string[], cwd?: string) => (spawnSync(cmd, args, { encoding: "utf8", cwd }).stdout ?? "").trim();
const here = fileURLToPath(new URL("../..", import.meta.url));
const sides = [
  { key: "A", label: `A: ${sh("git", ["rev-parse", "--short", "HEAD"], opts.old) || opts.old} (${opts.oldLabel})`, servers: oldServers },
  { key: "B", label: `B: ${sh("git", ["rev-parse", "--short", "HEAD"], here)} (metrics)`, servers: newServers },
] as const;
type Side = (typeof sides)[number]["key"];

const ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
const ROWS = [
  { name: "manifest GET by tag", method: "GET", byDigest: false },
  { name: "manifest GET by digest", method: "GET", byDigest: true },
  { name: "manifest HEAD by tag", method: "HEAD", byDigest: false },
  { name: "manifest HEAD by digest", method: "HEAD", byDigest: true },
] as const;
const REQUESTS_PER_IMAGE = 5; // POST + PUT for the config, the same for the layer, PUT manifest

/** samples[row][side] = one value per round, in round order. */
const samples = new Map<string, Record<Side, number[]>>();
function record(row: string, side: Side, v: number): void {
  if (!samples.has(row)) samples.set(row, { A: [], B: [] });
  samples.get(row)![side].push(v);
}
const notes: string[] = [];
let live: newServers.Server | undefined;

async function runSide(round: number, side: (typeof sides)[number]): Promise<void> {
  const s = await side.servers.startBerthServer(side.label, { BERTH_FSYNC: "false" });
  live = s;
  try {
    const app = makeImage({ layers: [Buffer.from("berth bench app layer\n")] });
    await pushImage(s.url, "bench/app", "latest", app);
    await manifestLoad(`${s.url}/v2/bench/app/manifests/latest`, "GET", ACCEPT, 1, 64);

    let cpu0 = newServers.cpuSeconds(s.pid);
    let requests = 0;
    let seconds = 0;
    const sent = { GET: 0, HEAD: 0 };
    for (const row of ROWS) {
      const target = `${s.url}/v2/bench/app/manifests/${row.byDigest ? app.manifestDigest : "latest"}`;
      const load = manifestLoad(target, row.method, ACCEPT, opts.seconds, 64);
      const scrape = side.key === "B" && round === opts.rounds && row === ROWS[0] ? scrapeMidway(s.url, opts.seconds / 2) : undefined;
      const r: LoadResult = await load;
      await scrape;
      requests += r.requests;
      seconds += r.seconds;
      sent[row.method] += r.requests + 64; // + the pool warm-up
      record(`${row.name} (req/s)`, side.key, r.requests / r.seconds);
      record(`${row.name} p50 (ms)`, side.key, r.p50);
      record(`${row.name} p99 (ms)`, side.key, r.p99);
      console.error(`  ${side.label}: ${row.name} ${(r.requests / r.seconds).toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
    }
    const manifestCpu = newServers.cpuSeconds(s.pid) - cpu0;
    record("manifest, all four (req/s)", side.key, requests / seconds);
    record("manifest: server CPU s per 1000 requests", side.key, (manifestCpu * 1000) / requests);

    cpu0 = newServers.cpuSeconds(s.pid);
    const t = await pushSmallImages(s.url, "bench/small", `r${round}`, opts.images, 16);
    const smallCpu = newServers.cpuSeconds(s.pid) - cpu0;
    record(`${opts.images} small images, 16 at a time (images/s)`, side.key, opts.images / t);
    record(`small images (req/s, ${REQUESTS_PER_IMAGE} per image)`, side.key, (opts.images * REQUESTS_PER_IMAGE) / t);
    record("small images: server CPU s per 1000 requests", side.key, (smallCpu * 1000) / (opts.images * REQUESTS_PER_IMAGE));
    const rss = newServers.peakRss(s.pid) / 2 ** 20;
    record("peak RSS at the end of the round (MiB)", side.key, rss);
    console.error(
      `  ${side.label}: small images ${(opts.images / t).toFixed(0)}/s; CPU ms/request manifest ${((manifestCpu * 1000) / requests).toFixed(3)}, ` +
        `small ${((smallCpu * 1000) / (opts.images * REQUESTS_PER_IMAGE)).toFixed(3)}; peak RSS ${rss.toFixed(0)} MiB`,
    );
    if (side.key === "B" && round === opts.rounds) await checkCounts(s.url, sent);
  } finally {
    live = undefined;
    await s.stop();
  }
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number) => (!Number.isFinite(n) ? "n/a" : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n >= 0.1 ? n.toFixed(2) : n.toFixed(3));
const range = (xs: number[]) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;

function render(started: Date): string {
  const lines = [
    "# Per-request metrics A/B",
    "",
    `- command: \`npm run bench:metrics-ab -- ${process.argv.slice(2).join(" ")}\``,
    `- date: ${started.toISOString()} to ${new Date().toISOString()}`,
    `- machine: nproc ${sh("nproc", [])} (${cpus()[0]?.model ?? "?"}), Node.js ${process.version}; client and server share the cores`,
    `- ${sides[0].label} vs ${sides[1].label}; berth serve, fsync off, no auth, fresh data directory per server per round`,
    `- ${opts.rounds} rounds, A then B in odd rounds, B then A in even ones; manifest workload ${opts.seconds} s per row at 64 connections after a 1 s warm-up; ${opts.images} small images 16 at a time`,
    "- each cell: median over rounds (min–max over rounds); B/A: median of the per-round ratios (min–max)",
    ...notes,
    "",
    `| measure | A (${opts.oldLabel}) | B (metrics) | B/A |`,
    "|---|---|---|---|",
  ];
  for (const [row, v] of samples) {
    const ratios = v.B.map((b, i) => b / v.A[i]!);
    lines.push(`| ${row} | ${fmt(median(v.A))} (${range(v.A)}) | ${fmt(median(v.B))} (${range(v.B)}) | ${median(ratios).toFixed(3)} (${ratios.length ? `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}` : "n/a"}) |`);
  }
  return lines.join("\n");
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void (live?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

try {
  const started = new Date();
  for (let round = 1; round <= opts.rounds; round++) {
    console.error(`round ${round}/${opts.rounds}`);
    for (const side of round % 2 ? sides : [...sides].reverse()) await runSide(round, side);
  }
  const report = render(started);
  console.log(report);
  const dir = fileURLToPath(new URL("../../bench/results/", import.meta.url));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "metrics-ab-latest.md"), report + "\n");
  console.error(`written to ${join(dir, "metrics-ab-latest.md")}`);
} catch (err) {
  console.error("metrics-ab failed:", err);
  process.exitCode = 1;
} finally {
  closeAgent();
}
