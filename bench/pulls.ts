/**
 * Pulls only: distribution against Berth (fsync off) serving one blob, single and 8 concurrent
 * pulls, the two servers taking turns to go first. For working on the pull path without the full
 * benchmark's quarter of an hour; `npm run bench` remains the reference.
 *
 *   npm run build && node dist/bench/pulls.js [--rounds N] [--size MiB]
 */
import { cpuSeconds, peakRss, startBerthServer, startDistribution, type Server } from "./servers.js";
import { BlobSource, closeAgent, MiB, pullBlob, pullConcurrent, pushMonolithic } from "./workloads.js";

const arg = (flag: string, fallback: number) => {
  const i = process.argv.indexOf(flag);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const rounds = arg("--rounds", 5);
const size = arg("--size", 512) * MiB;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const servers: Server[] = [await startDistribution(), await startBerthServer("berth (fsync off)", { BERTH_FSYNC: "false" })];
  try {
    const blob = new BlobSource(size);
    for (const s of servers) await pushMonolithic(s.url, "bench/pulls", blob);
    const figures = new Map<string, { single: number[]; concurrent: number[]; cpu: number; gb: number }>();
    for (const s of servers) figures.set(s.name, { single: [], concurrent: [], cpu: 0, gb: 0 });
    const ratios = { single: [] as number[], concurrent: [] as number[] };
    for (let round = 1; round <= rounds; round++) {
      const line: string[] = [];
      for (const kind of ["single", "concurrent"] as const) {
        const n = kind === "single" ? 1 : 8;
        const speeds = new Map<string, number>();
        // Alternating which goes first: on this VM the first of a round is the slower (docs/performance.md).
        for (const s of round % 2 ? servers : [...servers].reverse()) {
          const f = figures.get(s.name)!;
          const before = cpuSeconds(s.pid);
          const t = n === 1 ? await pullBlob(s.url, "bench/pulls", blob) : await pullConcurrent(s.url, "bench/pulls", blob, n);
          f.cpu += cpuSeconds(s.pid) - before;
          f.gb += (n * size) / 1e9;
          const mbps = (n * size) / 1e6 / t;
          f[kind].push(mbps);
          speeds.set(s.name, mbps);
        }
        const [reference, berth] = servers.map((s) => speeds.get(s.name)!);
        ratios[kind].push(berth! / reference!);
        line.push(`${kind} ${reference!.toFixed(0)} / ${berth!.toFixed(0)} MB/s`);
      }
      console.error(`round ${round}: ${line.join(", ")}`);
    }
    console.log(`| server | pull (MB/s) | 8 concurrent pulls (MB/s) | CPU s per GB pulled | peak RSS (MiB) |`);
    console.log(`|---|---|---|---|---|`);
    for (const s of servers) {
      const f = figures.get(s.name)!;
      const rss = (peakRss(s.pid) / MiB).toFixed(0);
      console.log(`| ${s.name} | ${median(f.single).toFixed(0)} | ${median(f.concurrent).toFixed(0)} | ${(f.cpu / f.gb).toFixed(2)} | ${rss} |`);
    }
    console.log(`\nmedian ratio berth/distribution: pull ${median(ratios.single).toFixed(2)}×, 8 concurrent ${median(ratios.concurrent).toFixed(2)}×`);
  } finally {
    await Promise.all(servers.map((s) => s.stop().catch(() => {})));
    closeAgent();
  }
}

await main();
