/**
 * Pulls only: distribution against Berth (fsync off) serving one blob, a single pull and each
 * level of `--concurrency` (each pull on its own worker thread), the two servers taking turns to go
 * first. Reports MB/s, server CPU per GB pulled at each level, and peak RSS. For working on the
 * pull path without the full benchmark's quarter of an hour; `npm run bench` remains the reference.
 *
 *   npm run build && node dist/bench/pulls.js [--rounds N] [--size MiB] [--concurrency 8,64] [--out file.md]
 *
 * With many pulls the blob is smaller (`--size` divided by concurrency / 8, at least 16 MiB), so
 * each level moves about as many bytes as 8 pulls of `--size` and a round stays short.
 */
import { writeFile } from "node:fs/promises";
import { cpuSplit, peakRss, startBerthServer, startDistribution, type Server } from "./servers.js";
import { BlobSource, closeAgent, MiB, pullBlob, pullConcurrent, pushMonolithic } from "./workloads.js";

const flag = (name: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const rounds = Number(flag("--rounds") ?? 5);
const size = Number(flag("--size") ?? 512) * MiB;
const levels = (flag("--concurrency") ?? "8").split(",").map(Number);
if (levels.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new Error("--concurrency takes a list of 1..64");
const out = flag("--out");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Blob size for `n` pulls at once: about the bytes of 8 pulls of `size`. */
const sizeFor = (n: number) => (n <= 8 ? size : Math.max(16 * MiB, Math.floor((size * 8) / n / MiB) * MiB));

interface Figures {
  mbps: number[];
  user: number;
  system: number;
  gb: number;
}

async function main(): Promise<void> {
  const servers: Server[] = [await startDistribution(), await startBerthServer("berth (fsync off)", { BERTH_FSYNC: "false" })];
  try {
    const kinds = [{ name: "pull", n: 1 }, ...levels.map((n) => ({ name: `${n} concurrent pulls`, n }))];
    const blobs = new Map<number, BlobSource>();
    for (const { n } of kinds) if (!blobs.has(sizeFor(n))) blobs.set(sizeFor(n), new BlobSource(sizeFor(n)));
    for (const s of servers) for (const blob of blobs.values()) await pushMonolithic(s.url, "bench/pulls", blob);
    const figures = new Map<string, Figures>();
    const ratios = new Map<string, number[]>();
    for (const s of servers) for (const k of kinds) figures.set(`${s.name}|${k.name}`, { mbps: [], user: 0, system: 0, gb: 0 });
    for (let round = 1; round <= rounds; round++) {
      const line: string[] = [];
      for (const { name, n } of kinds) {
        const blob = blobs.get(sizeFor(n))!;
        const speeds: number[] = [];
        // Alternating which goes first: on this VM the first of a round is the slower (docs/performance.md).
        for (const s of round % 2 ? servers : [...servers].reverse()) {
          const f = figures.get(`${s.name}|${name}`)!;
          const before = cpuSplit(s.pid);
          const t = n === 1 ? await pullBlob(s.url, "bench/pulls", blob) : await pullConcurrent(s.url, "bench/pulls", blob, n);
          const after = cpuSplit(s.pid);
          f.user += after.user - before.user;
          f.system += after.system - before.system;
          f.gb += (n * blob.size) / 1e9;
          f.mbps.push((n * blob.size) / 1e6 / t);
          speeds[servers.indexOf(s)] = (n * blob.size) / 1e6 / t;
        }
        ratios.set(name, [...(ratios.get(name) ?? []), speeds[1]! / speeds[0]!]);
        line.push(`${name} ${speeds[0]!.toFixed(0)} / ${speeds[1]!.toFixed(0)} MB/s`);
      }
      console.error(`round ${round} (distribution / berth): ${line.join(", ")}`);
    }
    const lines = [
      `| workload | distribution MB/s | berth MB/s | ratio | distribution CPU s/GB (user + sys) | berth CPU s/GB (user + sys) | CPU ratio |`,
      `|---|---|---|---|---|---|---|`,
    ];
    for (const { name, n } of kinds) {
      const [d, b] = servers.map((s) => figures.get(`${s.name}|${name}`)!) as [Figures, Figures];
      const cpu = (f: Figures) => `${((f.user + f.system) / f.gb).toFixed(2)} (${(f.user / f.gb).toFixed(2)} + ${(f.system / f.gb).toFixed(2)})`;
      const label = n === 1 ? `${name} ${sizeFor(n) / MiB} MiB` : `${name} × ${sizeFor(n) / MiB} MiB`;
      lines.push(
        `| ${label} | ${median(d.mbps).toFixed(0)} | ${median(b.mbps).toFixed(0)} | ${median(ratios.get(name)!).toFixed(2)}× | ${cpu(d)} | ${cpu(b)} | ${((b.user + b.system) / b.gb / ((d.user + d.system) / d.gb)).toFixed(2)}× |`,
      );
    }
    lines.push("", `peak RSS: ${servers.map((s) => `${s.name} ${(peakRss(s.pid) / MiB).toFixed(0)} MiB`).join(", ")}`);
    lines.push(`rounds: ${rounds}; MB/s are medians, ratios the median of per-round ratios, CPU over all rounds`);
    console.log(lines.join("\n"));
    if (out) await writeFile(out, `${lines.join("\n")}\n`);
  } finally {
    await Promise.all(servers.map((s) => s.stop().catch(() => {})));
    closeAgent();
  }
}

await main();
