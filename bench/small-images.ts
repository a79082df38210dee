/**
 * The small-image workload alone, A B C A B C over rounds: distribution, Berth with fsync off,
 * Berth durable. For checking the push path's per-blob cost quickly.
 *
 *   npm run build && node dist/bench/small-images.js [--rounds N] [--images N]
 */
import { cpuSeconds, startBerthServer, startDistribution, type Server } from "./servers.js";
import { closeAgent, pushSmallImages } from "./workloads.js";
import { checkBenchArgs } from "./args.js";

checkBenchArgs("node dist/bench/small-images.js [--rounds N] [--images N] (after npm run build)", { rounds: "value", images: "value" });

const arg = (flag: string, fallback: number) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const rounds = arg("--rounds", 3);
const images = arg("--images", 200);

const servers: Server[] = [
  await startDistribution(),
  await startBerthServer("berth (fsync off)", { BERTH_FSYNC: "false" }),
  await startBerthServer("berth (durable)", {}),
];
const rates = new Map<string, number[]>(servers.map((s) => [s.name, []]));
const cpu = new Map<string, number>(servers.map((s) => [s.name, 0]));
try {
  for (let round = 1; round <= rounds; round++) {
    for (const s of servers) {
      const before = cpuSeconds(s.pid);
      const t = await pushSmallImages(s.url, "bench/small", `r${round}`, images, 16);
      cpu.set(s.name, cpu.get(s.name)! + cpuSeconds(s.pid) - before);
      rates.get(s.name)!.push(images / t);
      console.error(`round ${round} ${s.name}: ${(images / t).toFixed(0)} images/s`);
    }
  }
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  closeAgent();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const reference = median(rates.get(servers[0]!.name)!);
console.log(`| server | images/s (median of ${rounds}) | ratio | CPU ms per image |`);
console.log("|---|---|---|---|");
for (const s of servers) {
  const m = median(rates.get(s.name)!);
  console.log(`| ${s.name} | ${m.toFixed(0)} | ${(m / reference).toFixed(2)}× | ${((cpu.get(s.name)! * 1000) / (images * rounds)).toFixed(1)} |`);
}
