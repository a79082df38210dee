/**
 * What the A/B benchmarks (metrics-ab.ts, webhooks-ab.ts) share: two sides, each a real
 * `berth serve` started fresh per round on a fresh data directory, measured in alternating order
 * (A then B in odd rounds, B then A in even ones) so drift on a shared, noisy machine hits both
 * sides alike; the manifest and small-image workloads with the server's CPU from /proc; per-row
 * samples reduced to medians, ranges and the median of per-round B/A ratios; the markdown report.
 */
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuSeconds, peakRss, type Server } from "./servers.js";
import { manifestLoad, pushSmallImages, type LoadResult } from "./workloads.js";

export type SideKey = "A" | "B";

/** One side of an A/B run: which column its samples go to, and how it is named in the report. */
export interface Side {
  key: SideKey;
  label: string;
}

/** The settings every A/B run takes: `--rounds N --seconds S --images N`. */
export interface AbOptions {
  rounds: number;
  /** Seconds of each manifest row. */
  seconds: number;
  /** Small images pushed per side per round. */
  images: number;
}

/**
 * Parses `argv` (every flag takes a value) over `defaults`: the three common flags here, the
 * script's own through `extra`, which returns false for a flag it does not know. Exits with
 * `usage` on anything else.
 */
export function parseAbArgs<O extends AbOptions>(
  argv: string[],
  defaults: O,
  usage: string,
  extra: (o: O, flag: string, value: string | undefined) => boolean = () => false,
): O {
  const o = { ...defaults };
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(`usage: ${usage}`);
    process.exit(0);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if ((a === "--rounds" || a === "--seconds" || a === "--images") && Number(v) > 0) {
      o[a.slice(2) as keyof AbOptions] = a === "--seconds" ? Number(v) : Math.floor(Number(v));
    } else if (!extra(o, a, v)) {
      console.error(`usage: ${usage} (bad or unknown argument ${a})`);
      process.exit(2);
    }
  }
  return o;
}

export const sh = (cmd: string, args: string[], cwd?: string): string => (spawnSync(cmd, args, { encoding: "utf8", cwd }).stdout ?? "").trim();

/** The report's machine line: cores, CPU model, Node.js. */
export function machineFacts(): string {
  return `nproc ${sh("nproc", [])} (${cpus()[0]?.model ?? "?"}), Node.js ${process.version}; client and server share the cores`;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const fmt = (n: number): string =>
  !Number.isFinite(n) ? "n/a" : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n >= 0.1 ? n.toFixed(2) : n.toFixed(3);
export const range = (xs: number[]): string => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;

/** Samples per row and side, one value per round in round order, in the order rows were first recorded. */
export class Samples {
  private readonly rows = new Map<string, Record<SideKey, number[]>>();

  record(row: string, side: SideKey, v: number): void {
    if (!this.rows.has(row)) this.rows.set(row, { A: [], B: [] });
    this.rows.get(row)![side].push(v);
  }

  /** The markdown table: per row the median (min–max) of each side and the median (min–max) of the per-round B/A ratios. */
  table(aHeading: string, bHeading: string): string[] {
    const lines = [`| measure | ${aHeading} | ${bHeading} | B/A |`, "|---|---|---|---|"];
    for (const [row, v] of this.rows) {
      const ratios = v.B.map((b, i) => b / v.A[i]!).filter((r) => Number.isFinite(r));
      const ratio = ratios.length ? `${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : "n/a";
      lines.push(`| ${row} | ${fmt(median(v.A))} (${range(v.A)}) | ${fmt(median(v.B))} (${range(v.B)}) | ${ratio} |`);
    }
    return lines;
  }
}

export const MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
/** POST + PUT for the config, the same for the layer, PUT manifest. */
export const REQUESTS_PER_IMAGE = 5;

export interface ManifestRow {
  name: string;
  method: "GET" | "HEAD";
  byDigest: boolean;
}

export interface ManifestTotals {
  requests: number;
  seconds: number;
  /** Server CPU seconds over all rows. */
  cpu: number;
  /** Requests sent per method, pool warm-ups included. */
  sent: { GET: number; HEAD: number };
}

/**
 * Each row in turn at 64 connections for `seconds` against `repo`'s manifest (`tag`, or `digest`
 * for rows by digest), recording req/s, p50 and p99 per row. `during(row)`, when it returns a
 * promise, runs alongside that row's load and is awaited with it.
 */
export async function measureManifests(
  samples: Samples,
  side: Side,
  s: Server,
  o: { repo: string; tag: string; digest: string; rows: readonly ManifestRow[]; seconds: number; during?: (row: ManifestRow) => Promise<void> | undefined },
): Promise<ManifestTotals> {
  const cpu0 = cpuSeconds(s.pid);
  const totals: ManifestTotals = { requests: 0, seconds: 0, cpu: 0, sent: { GET: 0, HEAD: 0 } };
  for (const row of o.rows) {
    const target = `${s.url}/v2/${o.repo}/manifests/${row.byDigest ? o.digest : o.tag}`;
    const load = manifestLoad(target, row.method, MANIFEST_ACCEPT, o.seconds, 64);
    const alongside = o.during?.(row);
    const r: LoadResult = await load;
    await alongside;
    totals.requests += r.requests;
    totals.seconds += r.seconds;
    totals.sent[row.method] += r.requests + 64; // + the pool warm-up
    samples.record(`${row.name} (req/s)`, side.key, r.requests / r.seconds);
    samples.record(`${row.name} p50 (ms)`, side.key, r.p50);
    samples.record(`${row.name} p99 (ms)`, side.key, r.p99);
    console.error(`  ${side.label}: ${row.name} ${(r.requests / r.seconds).toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
  }
  totals.cpu = cpuSeconds(s.pid) - cpu0;
  return totals;
}

/** `images` small images 16 at a time (tags `prefix-N` in `repo`): images/s, requests/s and server CPU per 1000 requests. */
export async function measureSmallPushes(samples: Samples, side: Side, s: Server, o: { repo: string; prefix: string; images: number }): Promise<void> {
  const cpu0 = cpuSeconds(s.pid);
  const t = await pushSmallImages(s.url, o.repo, o.prefix, o.images, 16);
  const cpuPer1000 = ((cpuSeconds(s.pid) - cpu0) * 1000) / (o.images * REQUESTS_PER_IMAGE);
  samples.record(`${o.images} small images, 16 at a time (images/s)`, side.key, o.images / t);
  samples.record(`small images (req/s, ${REQUESTS_PER_IMAGE} per image)`, side.key, (o.images * REQUESTS_PER_IMAGE) / t);
  samples.record("small images: server CPU s per 1000 requests", side.key, cpuPer1000);
  console.error(`  ${side.label}: small images ${(o.images / t).toFixed(0)}/s, server CPU ${cpuPer1000.toFixed(3)} s per 1000 requests`);
}

/** Records the server's peak RSS (VmHWM) in MiB and returns it. */
export function recordPeakRss(samples: Samples, side: Side, s: Server): number {
  const mib = peakRss(s.pid) / 2 ** 20;
  samples.record("peak RSS at the end of the round (MiB)", side.key, mib);
  return mib;
}

const live = new Set<Server>();

/** Starts a server, runs `use` on it and stops it, whatever happens; a SIGINT or SIGTERM during `runAb` stops it too. */
export async function withServer<T>(start: () => Promise<Server>, use: (s: Server) => Promise<T>): Promise<T> {
  const s = await start();
  live.add(s);
  try {
    return await use(s);
  } finally {
    live.delete(s);
    await s.stop();
  }
}

/**
 * The rounds, sides alternating, then `render`'s report printed and written to
 * bench/results/`resultFile`. `cleanup` runs at the end and on SIGINT/SIGTERM.
 */
export async function runAb<S extends Side>(o: {
  name: string;
  rounds: number;
  sides: readonly [S, S];
  runSide: (round: number, side: S) => Promise<void>;
  render: (started: Date) => string;
  resultFile: string;
  cleanup?: () => Promise<void>;
}): Promise<void> {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      void Promise.allSettled([...live].map((s) => s.stop()))
        .then(() => o.cleanup?.())
        .finally(() => process.exit(130));
    });
  }
  try {
    const started = new Date();
    for (let round = 1; round <= o.rounds; round++) {
      console.error(`round ${round}/${o.rounds}`);
      for (const side of round % 2 ? o.sides : [...o.sides].reverse()) await o.runSide(round, side);
    }
    const report = o.render(started);
    console.log(report);
    const dir = fileURLToPath(new URL("../../bench/results/", import.meta.url));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, o.resultFile), report + "\n");
    console.error(`written to ${join(dir, o.resultFile)}`);
  } catch (err) {
    console.error(`${o.name} failed:`, err);
    process.exitCode = 1;
  } finally {
    await o.cleanup?.();
  }
}
