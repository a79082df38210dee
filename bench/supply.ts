/**
 * The supply-chain figures (issue 14): secret scanning and SBOM extraction throughput, the cost
 * of a push under `secrets: block`, and pulls under a signature policy in `enforce`. Writes
 * bench/results/supply-latest.md.
 *
 *   npm run bench:supply [-- --rounds 5 --push-rounds 5 --images 200 --big-rounds 4 --only throughput,push,pulls
 *                            --baseline OTHER/dist]
 *
 * `--baseline` adds a secret scan with `scanLayer` from another build (a worktree of an earlier
 * commit, built with tsc) to the throughput rounds, paired with this build's.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSecretRules } from "../src/supply/secrets/rules.js";
import { fmt, machineFacts, median, range, sh } from "./ab-harness.js";
import { measurePushes, type PushResults, type Side } from "./supply-push.js";
import { realLayer, textLayer, type BenchLayer } from "./supply-layers.js";
import { measureThroughput, readers, secretReader, type Reader, type Timings } from "./supply-throughput.js";
import { checkBenchArgs } from "./args.js";

checkBenchArgs("npm run bench:supply -- [--rounds N] [--push-rounds N] [--images N] [--big-rounds N] [--only throughput,push,pulls] [--baseline OTHER/dist]", { rounds: "value", "push-rounds": "value", images: "value", "big-rounds": "value", only: "value", baseline: "value" });

const args = process.argv.slice(2);
const opt = (flag: string, fallback: string) => {
  const i = args.indexOf(flag);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const rounds = Number(opt("--rounds", "5"));
const pushRounds = Number(opt("--push-rounds", "5"));
const images = Number(opt("--images", "200"));
const bigRounds = Number(opt("--big-rounds", "4"));
const only = new Set(opt("--only", "throughput,push,pulls").split(","));
const baseline = args.includes("--baseline") ? resolve(opt("--baseline", "")) : undefined;

const cacheDir = join(tmpdir(), "berth-bench-supply");
mkdirSync(cacheDir, { recursive: true });
const log = (s: string) => console.error(s);
const root = fileURLToPath(new URL("../..", import.meta.url));
const MB = 1e6;
const MiB = 2 ** 20;

log(`layers in ${cacheDir} (built on first use)`);
const real = await realLayer(cacheDir);
const text = await textLayer(cacheDir);
const layers: BenchLayer[] = [real, text];
const out: string[] = [
  "# Supply-chain figures (`npm run bench:supply`)",
  "",
  `Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; machine: ${machineFacts()}; commit ${sh("git", ["rev-parse", "--short", "HEAD"], root)}.`,
  `Command: \`npm run bench:supply -- ${args.join(" ")}\`. MB = 10^6 bytes. Layers (cached in ${cacheDir}):`,
  "",
  ...layers.map((l) => `- \`${l.name}\`: ${l.files} files, tar ${(l.tarBytes / MiB).toFixed(0)} MiB (${(l.tarBytes / MB).toFixed(0)} MB), gzip ${(l.gzipBytes / MiB).toFixed(0)} MiB (${(l.gzipBytes / MB).toFixed(0)} MB)${l.excluded?.length ? `; left out because the built-in rules flag them: ${l.excluded.join(", ")}` : ""}`),
  "",
];

function throughputTable(timings: Timings, notes: Map<string, string>): string[] {
  const lines = ["| layer | reader | s per run, median (range) | MB/s of tar | MB/s of gzip | what it read |", "|---|---|---|---|---|---|"];
  for (const layer of layers) {
    for (const [label, xs] of timings.get(layer.name)!) {
      const m = median(xs);
      const rate = (bytes: number) => `${fmt(bytes / MB / m)} (${fmt(bytes / MB / Math.max(...xs))}–${fmt(bytes / MB / Math.min(...xs))})`;
      lines.push(`| ${layer.name} | ${label} | ${fmt(m)} (${range(xs)}) | ${rate(layer.tarBytes)} | ${rate(layer.gzipBytes)} | ${notes.get(`${layer.name}\0${label}`)} |`);
    }
  }
  return lines;
}

function rounds2(timings: Timings): string[] {
  const lines = ["Each round's seconds:", ""];
  for (const [layer, byReader] of timings) for (const [label, xs] of byReader) lines.push(`- ${layer} / ${label}: ${xs.map((x) => x.toFixed(2)).join(", ")}`);
  return lines;
}

if (only.has("throughput")) {
  const extra: Reader[] = [];
  if (baseline) {
    const mod = (await import(join(baseline, "src/supply/secrets/scan-layer.js"))) as typeof import("../src/supply/secrets/scan-layer.js");
    extra.push(secretReader("secret scan (baseline build)", mod.scanLayer, loadSecretRules()));
  }
  const { timings, notes } = await measureThroughput(layers, readers(extra), rounds, log);
  out.push("## Throughput", "", `${rounds} rounds after a warm-up run of each; the order of the readers rotates every round (reversed in odd ones). Layer read from the page cache.`);
  if (baseline) out.push(`Baseline build: ${baseline}.`);
  out.push("", ...throughputTable(timings, notes), "");
  const secret = (l: string, label: string) => timings.get(l)!.get(label)!;
  if (baseline) {
    for (const l of layers) {
      const ratios = secret(l.name, "secret scan (baseline build)").map((b, i) => b / secret(l.name, "secret scan")[i]!);
      out.push(`- ${l.name}: speed-up of this build over the baseline, median of per-round ratios ${median(ratios).toFixed(2)}× (${range(ratios)}).`);
    }
    out.push("");
  }
  out.push(...rounds2(timings), "");
}

function pushTable(r: PushResults): string[] {
  const ratio = (xs: Record<Side, number[]>) => xs.block.map((b, i) => b / xs.off[i]!);
  const lines = ["| workload | off: s, median (range) | block: s, median (range) | block/off, median of per-round ratios (range) | server CPU off → block |", "|---|---|---|---|---|"];
  const row = (name: string, xs: Record<Side, number[]>, cpu: Record<Side, number[]>, cpuUnit: string) => {
    if (xs.off.length === 0) return;
    const rs = ratio(xs);
    lines.push(`| ${name} | ${fmt(median(xs.off))} (${range(xs.off)}) | ${fmt(median(xs.block))} (${range(xs.block)}) | ${median(rs).toFixed(2)}× (${range(rs)}) | ${fmt(median(cpu.off))} → ${fmt(median(cpu.block))} ${cpuUnit} |`);
  };
  row(`${images} small images (3 layers each), 16 at a time`, r.small, r.smallCpu, "ms per image");
  row(`512 MiB image (tar ${(real.tarBytes / MiB).toFixed(0)} MiB, gzip ${(r.bigLayerBytes / MiB).toFixed(0)} MiB), skopeo copy`, r.big, r.bigCpu, "s per push");
  lines.push("", "Each round's seconds (off / block):", "");
  lines.push(`- small: ${r.small.off.map((x, i) => `${x.toFixed(2)} / ${r.small.block[i]!.toFixed(2)}`).join("; ")}`);
  if (r.big.off.length) lines.push(`- 512 MiB: ${r.big.off.map((x, i) => `${x.toFixed(2)} / ${r.big.block[i]!.toFixed(2)}`).join("; ")}`);
  return lines;
}

if (only.has("push")) {
  const r = await measurePushes({ rounds: pushRounds, images, bigRounds, cacheDir, real, log });
  out.push(
    "## Push under `secrets: block`",
    "",
    "Two `berth serve` processes (filesystem + SQLite, fsync on, SBOMs off on both): no secrets policy, and `secrets.policies: [{repositories: [\"**\"], mode: block}]`. " +
      `Rounds alternate which goes first. Small images: ${pushRounds} rounds of ${images} fresh images (a Python module, a config file, a 16 KiB binary, each its own gzip layer). ` +
      `512 MiB: ${bigRounds} rounds, each a fresh variant of the real layer (same files plus one with a new id), \`skopeo copy oci:… docker://…\` to both servers${r.skopeo ? ` (${sh(r.skopeo, ["--version"])})` : ""}.`,
    "",
    ...pushTable(r),
    "",
  );
}

if (only.has("pulls")) {
  log("signature pulls: node dist/bench/signature-pulls.js");
  const r = spawnSync(process.execPath, [join(root, "dist/bench/signature-pulls.js")], { encoding: "utf8", cwd: root });
  out.push("## Pulls under signature `enforce` (`node dist/bench/signature-pulls.js`)", "", "9 ABBA rounds of 2,000 manifest GETs by tag per side, in process; ratios are medians of per-round ratios.", "", r.stdout.trim() || `failed: ${r.stderr}`, "");
}

const file = join(root, "bench/results/supply-latest.md");
writeFileSync(file, out.join("\n"));
console.log(out.join("\n"));
log(`written to ${file}`);
