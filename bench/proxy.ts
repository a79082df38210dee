/**
 * The pull-through cache against its upstream, side by side in one run: CNCF distribution as the
 * upstream (no auth; Berth's upstream url points straight at it) and Berth as separate processes
 * with `proxy.upstreams: [{name: "docker.io", url: <distribution>, default: true}]`. One image of
 * incompressible layers is pushed into distribution, then pulled with Berth's own registry client
 * (bench/image-pull.ts: layers three at a time, every blob hashed and verified):
 *
 *   direct     from distribution
 *   cold       through Berth, a fresh data directory each round (fsync off, like for like: distribution never fsyncs)
 *   cold, durable  the same with fsync on (Berth's default)
 *   warm       through Berth again (every blob a hit)
 *   ordinary   from Berth, the same image pushed into a local repository
 *   TTFB       the first layer alone, cold through a fresh Berth and direct from distribution
 *
 * Writes bench/results/proxy-latest.md.
 *
 *   npm run bench:proxy -- [--rounds N] [--layers N] [--layer-size MiB] [--no-durable] [--old DIR]
 *
 * `--old DIR`: also a cold pull through the Berth of another built tree (its own bin/berth.js and
 * dist/, started by its bench/servers.js) in every round, for a before/after of a change:
 *
 *   git worktree add ../proxy-old <commit> --detach && ln -s "$PWD/node_modules" ../proxy-old/ && (cd ../proxy-old && npx tsc -p .)
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRegistryClient } from "../src/client/registry-client.js";
import { firstLayerTtfb, makeBenchImage, pullBenchImage, pushBenchImage, type BenchImage, type PullResult } from "./image-pull.js";
import { cpuSeconds, cpuSplit, ddSpeed, peakRss, startBerthServer, startDistribution, type Server } from "./servers.js";
import { checkBenchArgs } from "./args.js";

checkBenchArgs("npm run bench:proxy -- [--rounds N] [--layers N] [--layer-size MiB] [--no-durable] [--old OTHER/dist]", { rounds: "value", layers: "value", "layer-size": "value", "no-durable": "switch", old: "value" });

const MiB = 1024 * 1024;
const UPSTREAM_REPO = "bench/proxy";
const VIA_BERTH = `docker.io/${UPSTREAM_REPO}`;
const LOCAL_REPO = "bench/local";
const TAG = "latest";

interface Options {
  rounds: number;
  layers: number;
  layerSize: number;
  durable: boolean;
  /** Another built tree whose Berth also pulls cold, for a before/after. */
  old?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rounds: 3, layers: 4, layerSize: 128 * MiB, durable: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === "--rounds") o.rounds = Math.floor(num());
    else if (a === "--layers") o.layers = Math.floor(num());
    else if (a === "--layer-size") o.layerSize = Math.floor(num() * MiB);
    else if (a === "--no-durable") o.durable = false;
    else if (a === "--old" && argv[i + 1]) o.old = argv[++i]!;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const live = new Set<Server>();
let configDir: string | undefined;

async function started(server: Promise<Server>): Promise<Server> {
  const s = await server;
  live.add(s);
  return s;
}

async function stopped(s: Server): Promise<void> {
  live.delete(s);
  await s.stop();
}

async function stopAll(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop().catch(() => {})));
  live.clear();
  if (configDir) await rm(configDir, { recursive: true, force: true });
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping servers`);
    void stopAll().then(() => process.exit(130));
  });
}

/** Samples per row, one per round. */
const samples = new Map<string, number[]>();
const record = (row: string, v: number) => samples.set(row, [...(samples.get(row) ?? []), v]);
const notes: string[] = [];

const ROWS = {
  direct: "direct from distribution",
  cold: "cold through Berth (fsync off)",
  coldDurable: "cold through Berth (durable)",
  coldOld: "cold through the old tree's Berth (fsync off)",
  warm: "warm through Berth (every blob a hit)",
  ordinary: "Berth's ordinary pull (pushed into Berth)",
  ttfbDirect: "first layer alone, direct from distribution",
  ttfbCold: "first layer alone, cold through Berth",
  ttfbPullDirect: "first layer in the direct pull",
  ttfbPullCold: "first layer in the cold pull",
  tailDirect: "last byte of a layer after the one before, direct (slowest layer)",
  tailCold: "last byte of a layer after the one before, cold (slowest layer)",
  tailDurable: "last byte of a layer after the one before, cold durable (slowest layer)",
  coldRss: "Berth peak RSS after the cold pull (fsync off)",
  coldDurableRss: "Berth peak RSS after the cold pull (durable)",
};
/** CPU seconds each process spent during a pull, one row per pull kind (keys of ROWS). */
const CPU_COLUMNS = ["berth", "berthSystem", "distribution", "client", "wall"] as const;
type CpuColumn = (typeof CPU_COLUMNS)[number];
const cpuRow = (pull: string, column: CpuColumn) => `cpu ${column} ${pull}`;

function expectStatuses(what: string, pull: PullResult, wanted: RegExp): void {
  const wrong = pull.blobs.filter((b) => !wanted.test(b.cacheStatus ?? ""));
  if (wrong.length) throw new Error(`${what}: Cache-Status ${wrong.map((b) => JSON.stringify(b.cacheStatus)).join(", ")}, expected ${wanted}`);
}

/** Waits (up to 2 s: a reader's lease is given back just after its response ends) until `dir` holds nothing. */
async function expectEmpty(dir: string, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const left = await readdir(dir).catch(() => []);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${what} (${dir}) still holds ${left.join(", ")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const mbps = (p: PullResult) => p.bytes / 1e6 / p.seconds;
const slowestTail = (p: PullResult) => Math.max(...p.blobs.slice(1).map((b) => b.tailMs));

/** One pull, with the CPU each process spent on it recorded under the row of `pull`. */
async function measured(pull: string, berth: Server | undefined, dist: Server, run: () => Promise<PullResult>): Promise<PullResult> {
  const berth0 = berth ? cpuSplit(berth.pid) : undefined;
  const dist0 = cpuSeconds(dist.pid);
  const client0 = process.cpuUsage();
  const result = await run();
  const client = process.cpuUsage(client0);
  if (berth && berth0) {
    const berth1 = cpuSplit(berth.pid);
    record(cpuRow(pull, "berth"), berth1.user + berth1.system - berth0.user - berth0.system);
    record(cpuRow(pull, "berthSystem"), berth1.system - berth0.system);
  }
  record(cpuRow(pull, "distribution"), cpuSeconds(dist.pid) - dist0);
  record(cpuRow(pull, "client"), (client.user + client.system) / 1e6);
  record(cpuRow(pull, "wall"), result.seconds);
  return result;
}

type StartBerth = typeof startBerthServer;

async function round(r: number, dist: Server, image: BenchImage, config: string, startOld: StartBerth | undefined): Promise<void> {
  const env = (fsync: boolean) => ({ BERTH_CONFIG: config, BERTH_FSYNC: String(fsync) });
  /** Rotated one place per round, so that no side always goes first. */
  const alternate = <T>(xs: T[]) => xs.slice((r - 1) % xs.length).concat(xs.slice(0, (r - 1) % xs.length));
  const log = (m: string) => console.error(`  round ${r}: ${m}`);

  const ttfbBerth = await started(startBerthServer("berth ttfb", env(false)));
  for (const side of alternate(["direct", "cold"] as const)) {
    if (side === "direct") {
      const t = await firstLayerTtfb(dist.url, UPSTREAM_REPO, TAG, image);
      record(ROWS.ttfbDirect, t.ttfbMs);
      log(`TTFB direct ${t.ttfbMs.toFixed(1)} ms`);
    } else {
      const t = await firstLayerTtfb(ttfbBerth.url, VIA_BERTH, TAG, image);
      if (!/fwd=uri-miss; stored/.test(t.cacheStatus ?? "")) throw new Error(`TTFB layer: Cache-Status ${t.cacheStatus}, expected a miss`);
      record(ROWS.ttfbCold, t.ttfbMs);
      log(`TTFB cold ${t.ttfbMs.toFixed(1)} ms`);
    }
  }
  await stopped(ttfbBerth);

  const berth = await started(startBerthServer("berth (fsync off)", env(false)));
  const old = startOld ? await started(startOld("berth (old tree)", env(false))) : undefined;
  for (const side of alternate(old ? (["direct", "cold", "old"] as const) : (["direct", "cold"] as const))) {
    if (side === "old") {
      const p = await measured(ROWS.coldOld, old, dist, () => pullBenchImage(old!.url, VIA_BERTH, TAG, image));
      record(ROWS.coldOld, mbps(p));
      log(`cold, old tree ${mbps(p).toFixed(0)} MB/s (${p.seconds.toFixed(2)} s)`);
    } else if (side === "direct") {
      const p = await measured(ROWS.direct, undefined, dist, () => pullBenchImage(dist.url, UPSTREAM_REPO, TAG, image));
      record(ROWS.direct, mbps(p));
      record(ROWS.ttfbPullDirect, p.blobs[1]!.ttfbMs);
      record(ROWS.tailDirect, slowestTail(p));
      log(`direct ${mbps(p).toFixed(0)} MB/s (${p.seconds.toFixed(2)} s)`);
    } else {
      const p = await measured(ROWS.cold, berth, dist, () => pullBenchImage(berth.url, VIA_BERTH, TAG, image));
      record(ROWS.coldRss, peakRss(berth.pid) / MiB);
      expectStatuses("cold pull", { ...p, blobs: p.blobs.slice(1) }, /^Berth; fwd=uri-miss; stored$/);
      record(ROWS.cold, mbps(p));
      record(ROWS.ttfbPullCold, p.blobs[1]!.ttfbMs);
      record(ROWS.tailCold, slowestTail(p));
      log(`cold ${mbps(p).toFixed(0)} MB/s (${p.seconds.toFixed(2)} s)`);
    }
  }
  if (old) await stopped(old);
  await expectEmpty(join(berth.data!, "proxy-spool"), "the spool directory after the cold pull");
  await expectEmpty(join(berth.data!, "uploads"), "the uploads directory after the cold pull");

  await pushLocal(berth.url, image);
  for (const side of alternate(["warm", "ordinary"] as const)) {
    if (side === "warm") {
      const p = await pullBenchImage(berth.url, VIA_BERTH, TAG, image);
      expectStatuses("warm pull", p, /^Berth; hit$/);
      record(ROWS.warm, mbps(p));
      log(`warm ${mbps(p).toFixed(0)} MB/s (${p.seconds.toFixed(2)} s)`);
    } else {
      const p = await pullBenchImage(berth.url, LOCAL_REPO, TAG, image);
      expectStatuses("ordinary pull", p, /^$/);
      record(ROWS.ordinary, mbps(p));
      log(`ordinary ${mbps(p).toFixed(0)} MB/s (${p.seconds.toFixed(2)} s)`);
    }
  }
  await stopped(berth);

  if (opts.durable) {
    const durable = await started(startBerthServer("berth (durable)", env(true)));
    const p = await measured(ROWS.coldDurable, durable, dist, () => pullBenchImage(durable.url, VIA_BERTH, TAG, image));
    record(ROWS.coldDurableRss, peakRss(durable.pid) / MiB);
    expectStatuses("cold durable pull", { ...p, blobs: p.blobs.slice(1) }, /^Berth; fwd=uri-miss; stored$/);
    record(ROWS.coldDurable, mbps(p));
    record(ROWS.tailDurable, slowestTail(p));
    log(`cold durable ${mbps(p).toFixed(0)} MB/s (${p.seconds.toFixed(2)} s)`);
    await expectEmpty(join(durable.data!, "proxy-spool"), "the spool directory after the durable cold pull");
    await stopped(durable);
  }
}

/**
 * Pushes the image into Berth's local LOCAL_REPO. With a default upstream, an unprefixed name that
 * is not yet a local repository is proxied, and so are HEADs of its blobs: the client's HEAD
 * before each upload would find the layers the cold pull cached (linking them into
 * docker.io/bench/local), the client would skip them, and the manifest PUT would fail with
 * MANIFEST_BLOB_UNKNOWN. A first blob of its own makes the repository local.
 */
async function pushLocal(url: string, image: BenchImage): Promise<void> {
  const client = createRegistryClient({ url, userAgent: "berth-bench" });
  try {
    await client.pushBlob(LOCAL_REPO, Buffer.from(`bench/local marker ${Date.now()}\n`));
  } finally {
    client.close();
  }
  await pushBenchImage(url, LOCAL_REPO, TAG, image);
}

function median(xs: number[] | undefined): number {
  if (!xs?.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (n: number) => (!Number.isFinite(n) ? "n/a" : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));
const loadavg = () => spawnSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).stdout.trim();

function render(startedAt: Date, load0: string, load1: string, dd: string): string {
  const sh = (cmd: string, args: string[]) => (spawnSync(cmd, args, { encoding: "utf8" }).stdout ?? "").trimEnd();
  const row = (name: string, unit: string) => {
    const xs = samples.get(name) ?? [];
    return `| ${name} (${unit}) | ${fmt(median(xs))} | ${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} | ${xs.map(fmt).join(", ")} |`;
  };
  const paired = (a: string, b: string, f: (x: number, y: number) => number) => {
    const xs = samples.get(a) ?? [];
    const ys = samples.get(b) ?? [];
    return xs.map((x, i) => f(x, ys[i]!));
  };
  const target = (name: string, values: number[], unit: string, goal: string, ok: (v: number) => boolean) =>
    `| ${name} | ${fmt(median(values))}${unit} | ${values.map((v) => fmt(v) + unit).join(", ")} | ${goal} | ${ok(median(values)) ? "met" : "**missed**"} |`;

  const coldRatio = paired(ROWS.cold, ROWS.direct, (x, y) => x / y);
  const durableRatio = paired(ROWS.coldDurable, ROWS.direct, (x, y) => x / y);
  const warmRatio = paired(ROWS.warm, ROWS.ordinary, (x, y) => x / y);
  const ttfbGap = paired(ROWS.ttfbCold, ROWS.ttfbDirect, (x, y) => x - y);
  const oldRatio = paired(ROWS.cold, ROWS.coldOld, (x, y) => x / y);
  const ttfbPullGap = paired(ROWS.ttfbPullCold, ROWS.ttfbPullDirect, (x, y) => x - y);

  const lines = [
    "# Pull-through cache: Berth in front of distribution",
    "",
    `- command: \`npm run bench:proxy -- ${process.argv.slice(2).join(" ")}\``.replace(/ `$/, "`"),
    `- date: ${startedAt.toISOString()}`,
    `- machine: nproc ${sh("nproc", [])} (${cpus()[0]?.model ?? "?"}), Node.js ${process.version}; load average at start \`${load0}\`, at end \`${load1}\``,
    `- disk fsync'd write speed (dd bs=1M count=512 conv=fdatasync, in the temp dir the data dirs live in): ${dd}`,
    `- upstream: ${sh("docker-registry", ["--version"]) || "docker-registry"}, no auth, filesystem storage; Berth's \`proxy.upstreams[0].url\` is distribution itself`,
    `- image: ${opts.layers} layers × ${opts.layerSize / MiB} MiB of random bytes + config (${fmt((opts.layers * opts.layerSize) / 1e6)} MB); pulled with Berth's registry client (src/client), a fresh client per pull: manifest, config, then layers 3 at a time, every blob sha256-verified and discarded`,
    `- rounds: ${opts.rounds}; each round: TTFB on a fresh Berth, then direct and cold on another fresh Berth, then warm and ordinary on that Berth${opts.durable ? ", then cold on a fresh durable Berth" : ""}; the order within each group rotates one place per round. Ratios are medians of per-round ratios`,
    `- checked every round: cold layers answered \`Berth; fwd=uri-miss; stored\`, warm blobs \`Berth; hit\`, spool and uploads/ empty after the cold pull`,
    ...notes,
    "",
    "| target (issue 13) | median | per round | goal | |",
    "|---|---|---|---|---|",
    target("cold pull / direct pull (fsync off)", coldRatio, "×", "≥ 0.9×", (v) => v >= 0.9),
    ...(opts.durable ? [target("cold pull / direct pull (durable)", durableRatio, "×", "≥ 0.9×", (v) => v >= 0.9)] : []),
    ...(opts.old ? [target(`cold pull, this tree / old tree (${opts.old})`, oldRatio, "×", "> 1×", (v) => v > 1)] : []),
    target("warm pull / ordinary pull", warmRatio, "×", "≥ 1.0× (within noise)", (v) => v >= 0.97),
    target("first-layer TTFB, cold − direct", ttfbGap, " ms", "≤ 50 ms", (v) => v <= 50),
    "",
    "| measure | median | min–max | per round |",
    "|---|---|---|---|",
    ...[ROWS.direct, ROWS.cold, ...(opts.old ? [ROWS.coldOld] : []), ...(opts.durable ? [ROWS.coldDurable] : []), ROWS.warm, ROWS.ordinary].map((n) => row(n, "MB/s")),
    ...[ROWS.ttfbDirect, ROWS.ttfbCold, ROWS.ttfbPullDirect, ROWS.ttfbPullCold].map((n) => row(n, "ms")),
    ...[ROWS.tailDirect, ROWS.tailCold, ...(opts.durable ? [ROWS.tailDurable] : [])].map((n) => row(n, "ms")),
    `| first layer in the pull, cold − direct (ms) | ${fmt(median(ttfbPullGap))} | | ${ttfbPullGap.map(fmt).join(", ")} |`,
    ...[ROWS.coldRss, ...(opts.durable ? [ROWS.coldDurableRss] : [])].map((n) => row(n, "MiB")),
    "",
    "CPU seconds spent during each pull (medians; client = this benchmark process, which pulls and hashes). With 2 cores, a pull cannot take less wall time than half the CPU all three processes need for it:",
    "",
    "| pull | Berth (user+sys) | of which system | distribution | client | total | total / 2 cores | wall |",
    "|---|---|---|---|---|---|---|---|",
    ...[ROWS.direct, ROWS.cold, ...(opts.old ? [ROWS.coldOld] : []), ...(opts.durable ? [ROWS.coldDurable] : [])].map((pull) => {
      const m = (c: CpuColumn) => median(samples.get(cpuRow(pull, c)));
      const berth = samples.has(cpuRow(pull, "berth")) ? m("berth") : 0;
      const total = berth + m("distribution") + m("client");
      const cell = (c: CpuColumn) => (samples.has(cpuRow(pull, c)) ? fmt(m(c)) : "–");
      return `| ${pull} | ${cell("berth")} | ${cell("berthSystem")} | ${cell("distribution")} | ${cell("client")} | ${fmt(total)} | ${fmt(total / 2)} | ${cell("wall")} |`;
    }),
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const load0 = loadavg();
  console.error(`load average at start: ${load0}`);
  const scratch = await mkdtemp(join(tmpdir(), "bench-proxy-dd-"));
  const dd = await ddSpeed(scratch);
  await rm(scratch, { recursive: true, force: true });
  const dist = await started(startDistribution());
  console.error(`seeding ${opts.layers} × ${opts.layerSize / MiB} MiB into distribution...`);
  const image = makeBenchImage(opts.layers, opts.layerSize);
  await pushBenchImage(dist.url, UPSTREAM_REPO, TAG, image);
  configDir = await mkdtemp(join(tmpdir(), "bench-proxy-config-"));
  const config = join(configDir, "config.json");
  await writeFile(config, JSON.stringify({ proxy: { upstreams: [{ name: "docker.io", url: dist.url, default: true }] } }));
  const startOld = opts.old
    ? ((await import(pathToFileURL(join(opts.old, "dist", "bench", "servers.js")).href)) as { startBerthServer: StartBerth }).startBerthServer
    : undefined;
  for (let r = 1; r <= opts.rounds; r++) await round(r, dist, image, config, startOld);
  const load1 = loadavg();
  console.error(`load average at end: ${load1}`);
  const report = render(startedAt, load0, load1, dd);
  console.log(report);
  const dir = fileURLToPath(new URL("../../bench/results/", import.meta.url));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "proxy-latest.md"), report + "\n");
  console.error(`written to ${join(dir, "proxy-latest.md")}`);
}

try {
  await main();
} catch (err) {
  console.error("bench failed:", err);
  process.exitCode = 1;
} finally {
  await stopAll();
}
