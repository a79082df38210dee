/**
 * Side-by-side benchmark: CNCF distribution (Debian's `docker-registry`) against Berth with fsync
 * off (like for like: distribution never fsyncs) and Berth durable (the default), each a real
 * process on loopback. Prints one markdown table of medians over rounds and writes it to
 * bench/results/latest.md.
 *
 *   npm run bench -- [--quick] [--rounds N] [--size MiB] [--chunk MiB] [--seconds S] [--images N] [--skopeo MiB]
 *
 * `--skopeo` sets the size of the image `skopeo copy` pushes and pulls (256 MiB; 0 skips it).
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeImage } from "../test/helpers/fixtures.js";
import { cpuSeconds, ddSpeed, peakRss, startBerthServer, startDistribution, type Server } from "./servers.js";
import { buildSkopeoImage, findSkopeo, removeSkopeoScratch, scratchRoot, skopeoEnv, skopeoPull, skopeoPush, skopeoVersion } from "./skopeo.js";
import {
  BlobSource,
  closeAgent,
  manifestLoad,
  MiB,
  pullBlob,
  pullConcurrent,
  pushChunked,
  pushImage,
  pushMonolithic,
  pushSmallImages,
} from "./workloads.js";
import { checkBenchArgs } from "./args.js";

checkBenchArgs("npm run bench -- [--quick] [--rounds N] [--size MiB] [--chunk MiB] [--seconds S] [--images N] [--skopeo MiB]", { quick: "switch", rounds: "value", size: "value", chunk: "value", seconds: "value", images: "value", skopeo: "value" });

interface Options {
  rounds: number;
  size: number;
  chunk: number;
  seconds: number;
  images: number;
  /** Bytes of the image skopeo copies; 0 skips that workload. */
  skopeo: number;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes("--quick");
  const o: Options = { rounds: 3, size: (quick ? 64 : 512) * MiB, chunk: 16 * MiB, seconds: quick ? 1 : 3, images: 200, skopeo: 256 * MiB };
  const num = (i: number, flag: string) => {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--rounds") o.rounds = Math.floor(num(i++, a));
    else if (a === "--size") o.size = Math.floor(num(i++, a) * MiB);
    else if (a === "--chunk") o.chunk = Math.floor(num(i++, a) * MiB);
    else if (a === "--seconds") o.seconds = num(i++, a);
    else if (a === "--images") o.images = Math.floor(num(i++, a));
    else if (a === "--skopeo") {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a size in MiB (0 skips the workload)`);
      o.skopeo = Math.floor(v * MiB);
    }
    else if (a !== "--quick") throw new Error(`unknown argument ${a}`);
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const servers: Server[] = [];
let stopping: Promise<void> | undefined;
function stopAll(): Promise<void> {
  stopping ??= Promise.all([...servers.map((s) => s.stop().catch(() => {})), removeSkopeoScratch().catch(() => {})]).then(() => closeAgent());
  return stopping;
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping servers`);
    void stopAll().then(() => process.exit(130));
  });
}

/**
 * The servers in the order they run in `round`: rotated one place each round, so none always goes
 * first (this VM's page cache makes later writes of a round slower; see docs/performance.md).
 */
function inTurn(round: number): Server[] {
  const k = (round - 1) % servers.length;
  return [...servers.slice(k), ...servers.slice(0, k)];
}

/** Per-workload, per-server samples (one per round). */
const samples = new Map<string, Map<string, number[]>>();
type Category = "push" | "pull" | "manifest" | "small" | "skopeoPush" | "skopeoPull";
const CATEGORIES: Category[] = ["push", "pull", "manifest", "small", "skopeoPush", "skopeoPull"];
/** Per server: CPU seconds and work done per category. */
const cpu = new Map<string, Record<Category, { cpu: number; work: number }>>();
/** Lines about the skopeo workload for the report's header (version, or why it was skipped). */
const skopeoNotes: string[] = [];
/** Per server: its peak RSS (VmHWM) at the end of each round, so a ratio can be given per round. */
const roundPeaks = new Map<string, number[]>();

function record(row: string, server: string, value: number): void {
  if (!samples.has(row)) samples.set(row, new Map());
  const m = samples.get(row)!;
  if (!m.has(server)) m.set(server, []);
  m.get(server)!.push(value);
}

/** Runs `fn` and charges the server's CPU time to `category` along with `work` units. */
async function charged<T>(s: Server, category: Category, fn: () => Promise<T>, work: (r: T) => number): Promise<T> {
  const before = cpuSeconds(s.pid);
  const r = await fn();
  const c = cpu.get(s.name)![category];
  c.cpu += cpuSeconds(s.pid) - before;
  c.work += work(r);
  return r;
}

const MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
const MANIFEST_ROWS = ["manifest GET by tag", "manifest GET by digest", "manifest HEAD by tag", "manifest HEAD by digest"];

async function main(): Promise<void> {
  const started = new Date();
  const scratch = await mkdtemp(join(tmpdir(), "bench-dd-"));
  console.error("measuring the disk's fsync'd write speed (dd)...");
  const dd = await ddSpeed(scratch);
  await rm(scratch, { recursive: true, force: true });

  servers.push(await startDistribution());
  servers.push(await startBerthServer("berth (fsync off)", { BERTH_FSYNC: "false" }));
  servers.push(await startBerthServer("berth (durable)", {}));
  for (const s of servers) {
    cpu.set(s.name, Object.fromEntries(CATEGORIES.map((k) => [k, { cpu: 0, work: 0 }])) as Record<Category, { cpu: number; work: number }>);
  }

  // one image every manifest request reads
  const app = makeImage({ layers: [Buffer.from("berth bench app layer\n")] });
  for (const s of servers) await pushImage(s.url, "bench/app", "latest", app);

  const sizeLabel = `${opts.size / MiB} MiB`;
  const rows = {
    mono: `monolithic push ${sizeLabel} (MB/s)`,
    chunked: `chunked push ${sizeLabel}, ${opts.chunk / MiB} MiB PATCHes (MB/s)`,
    pull: `pull ${sizeLabel}, sha256 verified (MB/s)`,
    pull8: `8 concurrent pulls ${sizeLabel} (aggregate MB/s)`,
    small: `${opts.images} small images, 16 at a time (images/s)`,
    skopeoPush: `skopeo copy push, ${opts.skopeo / MiB} MiB 3-layer image (MB/s)`,
    skopeoPull: `skopeo copy pull, ${opts.skopeo / MiB} MiB 3-layer image (MB/s)`,
  };

  // the real client: skopeo, if present
  let skopeo: { bin: string; env: NodeJS.ProcessEnv; root: string; removeEnv(): Promise<void> } | undefined;
  if (opts.skopeo > 0) {
    const found = findSkopeo();
    if ("skip" in found) {
      console.error(`skopeo workload skipped: ${found.skip}`);
      skopeoNotes.push(`- skopeo workload skipped: ${found.skip}`);
    } else {
      const root = scratchRoot();
      const env = await skopeoEnv(root);
      skopeo = { bin: found.bin, env: env.env, root, removeEnv: env.remove };
      skopeoNotes.push(
        `- skopeo: ${skopeoVersion(found.bin)}; a fresh image each round (3 layers of random bytes, gzip level 0), ` +
          `layouts in ${root}; MB/s counts every blob (layers, config, manifest)`,
      );
    }
  } else {
    skopeoNotes.push("- skopeo workload skipped: --skopeo 0");
  }

  for (let round = 1; round <= opts.rounds; round++) {
    console.error(`round ${round}/${opts.rounds}: preparing blobs...`);
    const mono = new BlobSource(opts.size);
    const chunked = new BlobSource(opts.size);
    const mb = opts.size / 1e6;
    for (const s of inTurn(round)) {
      const t = await charged(s, "push", () => pushMonolithic(s.url, "bench/big", mono), () => opts.size);
      record(rows.mono, s.name, mb / t);
      console.error(`  ${s.name}: monolithic push ${(mb / t).toFixed(0)} MB/s`);
    }
    for (const s of inTurn(round)) {
      const t = await charged(s, "push", () => pushChunked(s.url, "bench/big", chunked, opts.chunk), () => opts.size);
      record(rows.chunked, s.name, mb / t);
      console.error(`  ${s.name}: chunked push ${(mb / t).toFixed(0)} MB/s`);
    }
    for (const s of inTurn(round)) {
      const t = await charged(s, "pull", () => pullBlob(s.url, "bench/big", mono), () => opts.size);
      record(rows.pull, s.name, mb / t);
      console.error(`  ${s.name}: pull ${(mb / t).toFixed(0)} MB/s`);
    }
    for (const s of inTurn(round)) {
      const t = await charged(s, "pull", () => pullConcurrent(s.url, "bench/big", mono, 8), () => 8 * opts.size);
      record(rows.pull8, s.name, (8 * mb) / t);
      console.error(`  ${s.name}: 8 concurrent pulls ${((8 * mb) / t).toFixed(0)} MB/s`);
    }
    for (const [i, row] of MANIFEST_ROWS.entries()) {
      const method = i < 2 ? "GET" : "HEAD";
      const ref = i % 2 === 0 ? "latest" : app.manifestDigest;
      for (const s of inTurn(round)) {
        const r = await charged(
          s,
          "manifest",
          () => manifestLoad(`${s.url}/v2/bench/app/manifests/${ref}`, method, MANIFEST_ACCEPT, opts.seconds, 64),
          (r) => r.requests,
        );
        record(`${row} (req/s)`, s.name, r.requests / r.seconds);
        record(`${row} p50 (ms)`, s.name, r.p50);
        record(`${row} p99 (ms)`, s.name, r.p99);
        console.error(`  ${s.name}: ${row} ${(r.requests / r.seconds).toFixed(0)} req/s p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms`);
      }
    }
    for (const s of inTurn(round)) {
      const t = await charged(s, "small", () => pushSmallImages(s.url, "bench/small", `r${round}`, opts.images, 16), () => opts.images);
      record(rows.small, s.name, opts.images / t);
      console.error(`  ${s.name}: small images ${(opts.images / t).toFixed(1)} images/s`);
    }
    if (skopeo) {
      try {
        await skopeoRound(skopeo, round, rows.skopeoPush, rows.skopeoPull);
      } catch (err) {
        const msg = (err instanceof Error ? err.message : String(err)).split("\n").slice(0, 6).join(" / ");
        console.error(`skopeo workload failed, skipped from now on: ${msg}`);
        skopeoNotes.push(`- skopeo workload failed in round ${round} and was skipped from then on: ${msg}`);
        await skopeo.removeEnv();
        skopeo = undefined;
      }
    }
    for (const s of servers) roundPeaks.set(s.name, [...(roundPeaks.get(s.name) ?? []), peakRss(s.pid)]);
    console.error(`  peak RSS after round ${round}: ${servers.map((s) => `${s.name} ${(peakRss(s.pid) / MiB).toFixed(0)} MiB`).join(", ")}`);
  }
  await skopeo?.removeEnv();

  const rss = new Map(servers.map((s) => [s.name, peakRss(s.pid)]));
  const report = render(started, dd, rss);
  console.log(report);
  const dir = fileURLToPath(new URL("../../bench/results/", import.meta.url));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "latest.md"), report + "\n");
  console.error(`written to ${join(dir, "latest.md")}`);
}

/** One round of the skopeo workload: a fresh image pushed to each server in turn, then pulled back from each. */
async function skopeoRound(
  sk: { bin: string; env: NodeJS.ProcessEnv; root: string },
  round: number,
  pushRow: string,
  pullRow: string,
): Promise<void> {
  console.error(`round ${round}/${opts.rounds}: building the ${opts.skopeo / MiB} MiB skopeo image...`);
  const image = await buildSkopeoImage(sk.root, opts.skopeo);
  try {
    const mb = image.bytes / 1e6;
    const repo = `bench/skopeo-r${round}`;
    for (const s of inTurn(round)) {
      const t = await charged(s, "skopeoPush", () => skopeoPush(sk.bin, sk.env, image, s.url, repo, "latest"), () => image.bytes);
      record(pushRow, s.name, mb / t);
      console.error(`  ${s.name}: skopeo push ${(mb / t).toFixed(0)} MB/s (${t.toFixed(2)} s)`);
    }
    for (const s of inTurn(round)) {
      const t = await charged(s, "skopeoPull", () => skopeoPull(sk.bin, sk.env, sk.root, s.url, repo, "latest", image), () => image.bytes);
      record(pullRow, s.name, mb / t);
      console.error(`  ${s.name}: skopeo pull ${(mb / t).toFixed(0)} MB/s (${t.toFixed(2)} s)`);
    }
  } finally {
    await image.remove();
  }
}

function median(xs: number[] | undefined): number {
  if (!xs || xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The median of round-by-round ratios a[i] / b[i] (both lists hold one sample per round, in order). */
function pairedRatio(a: number[] | undefined, b: number[] | undefined): number {
  if (!a || !b || a.length !== b.length) return median(a) / median(b);
  return median(a.map((x, i) => x / b[i]!));
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function render(started: Date, dd: string, rss: Map<string, number>): string {
  const [dist, off, durable] = servers.map((s) => s.name) as [string, string, string];
  const sh = (cmd: string, args: string[]) => (spawnSync(cmd, args, { encoding: "utf8" }).stdout ?? "").trimEnd();
  const lines: string[] = [];
  lines.push(`# Berth vs distribution`, "");
  lines.push(`- command: \`npm run bench -- ${process.argv.slice(2).join(" ")}\``.replace(/ `$/, "`"));
  lines.push(`- date: ${started.toISOString()}`);
  lines.push(`- machine: nproc ${sh("nproc", [])} (${cpus()[0]?.model ?? "?"}), Node.js ${process.version}`);
  lines.push(`- reference: ${sh("docker-registry", ["--version"]) || "docker-registry"}`);
  lines.push(`- rounds: ${opts.rounds}; figures are medians over rounds; ratios are the median of each round's ratio (the servers of one round run back to back, so they share the machine's momentary load); server order rotated one place per round (round 1: distribution, berth fsync off, berth durable)`);
  lines.push(`- disk fsync'd write speed (dd bs=1M count=512 conv=fdatasync): ${dd}`);
  lines.push(...skopeoNotes);
  lines.push("", "```", sh("free", ["-g"]), "```", "");
  lines.push(`| workload | distribution | berth (fsync off) | berth (durable) | ratio berth(fsync off)/distribution, median of per-round ratios |`);
  lines.push(`|---|---|---|---|---|`);
  for (const [row, m] of samples) {
    if (/ p(50|99) \(ms\)$/.test(row)) continue;
    const base = row.replace(/ \(req\/s\)$/, "");
    const manifest = base !== row;
    const cell = (name: string) => {
      const v = fmt(median(m.get(name)));
      if (!manifest) return v;
      const p50 = median(samples.get(`${base} p50 (ms)`)?.get(name));
      const p99 = median(samples.get(`${base} p99 (ms)`)?.get(name));
      return `${v} (p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms)`;
    };
    const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "n/a");
    let ratio = times(pairedRatio(m.get(off), m.get(dist)));
    if (manifest) {
      ratio += ` (p99 ${times(pairedRatio(samples.get(`${base} p99 (ms)`)?.get(off), samples.get(`${base} p99 (ms)`)?.get(dist)))})`;
    }
    lines.push(`| ${row} | ${cell(dist)} | ${cell(off)} | ${cell(durable)} | ${ratio} |`);
  }
  const per = (name: string, k: Category, scale: number) => {
    const c = cpu.get(name)![k];
    return c.work ? fmt((c.cpu / c.work) * scale) : "n/a";
  };
  lines.push("");
  lines.push(`| server CPU (user+system) | ${dist} | ${off} | ${durable} |`);
  lines.push(`|---|---|---|---|`);
  lines.push(`| CPU s per GB pushed | ${per(dist, "push", 1e9)} | ${per(off, "push", 1e9)} | ${per(durable, "push", 1e9)} |`);
  lines.push(`| CPU s per GB pulled | ${per(dist, "pull", 1e9)} | ${per(off, "pull", 1e9)} | ${per(durable, "pull", 1e9)} |`);
  lines.push(`| CPU s per 1000 manifest requests | ${per(dist, "manifest", 1000)} | ${per(off, "manifest", 1000)} | ${per(durable, "manifest", 1000)} |`);
  lines.push(`| CPU s per 1000 small images | ${per(dist, "small", 1000)} | ${per(off, "small", 1000)} | ${per(durable, "small", 1000)} |`);
  if (cpu.get(dist)!.skopeoPush.work) {
    lines.push(`| CPU s per GB pushed by skopeo | ${per(dist, "skopeoPush", 1e9)} | ${per(off, "skopeoPush", 1e9)} | ${per(durable, "skopeoPush", 1e9)} |`);
    lines.push(`| CPU s per GB pulled by skopeo | ${per(dist, "skopeoPull", 1e9)} | ${per(off, "skopeoPull", 1e9)} | ${per(durable, "skopeoPull", 1e9)} |`);
  }
  const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
  lines.push(
    `| peak RSS (VmHWM) at the end | ${mib(rss.get(dist)!)} | ${mib(rss.get(off)!)} | ${mib(rss.get(durable)!)} (ratio fsync off/distribution ${(rss.get(off)! / rss.get(dist)!).toFixed(2)}×) |`,
  );
  const peaks = (name: string) => (roundPeaks.get(name) ?? []).map((n) => (n / MiB).toFixed(0)).join(" / ");
  const perRound = (roundPeaks.get(off) ?? []).map((n, i) => `${(n / roundPeaks.get(dist)![i]!).toFixed(2)}×`).join(" / ");
  lines.push(`| peak RSS after each round (MiB) | ${peaks(dist)} | ${peaks(off)} | ${peaks(durable)} (ratio fsync off/distribution ${perRound}) |`);
  return lines.join("\n");
}

try {
  await main();
} catch (err) {
  console.error("bench failed:", err);
  process.exitCode = 1;
} finally {
  await stopAll();
}
