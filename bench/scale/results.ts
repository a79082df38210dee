/**
 * What the scale benchmark measured: samples per workload and registry, CPU used by each
 * registry's processes, notes and errors; and the markdown tables made of them.
 */
import type { Cluster } from "./cluster.js";
import { cpuSeconds } from "../servers.js";

export type Who = "berth" | "distribution";

/** One workload's figure: samples per registry, in `unit`, and whether more is better. */
export interface Figure {
  workload: string;
  unit: string;
  higherIsBetter: boolean;
  samples: Record<Who, number[]>;
  /** CPU seconds of the registry's processes over the samples, and the bytes moved, when counted. */
  cpu: Record<Who, number>;
  bytes: Record<Who, number>;
  /** A label for a figure that is extrapolated or otherwise not a plain median. */
  note?: string;
}

/** Collected figures of one run. */
export interface Results {
  figures: Figure[];
  notes: string[];
  errors: string[];
  /** Adds a sample. `cpu` and `bytes` feed CPU per GB. */
  add(workload: string, who: Who, value: number, opts: { unit: string; higherIsBetter: boolean; cpu?: number; bytes?: number; note?: string }): void;
}

export function createResults(): Results {
  const figures: Figure[] = [];
  return {
    figures,
    notes: [],
    errors: [],
    add(workload, who, value, opts) {
      let f = figures.find((x) => x.workload === workload);
      if (!f) {
        f = {
          workload,
          unit: opts.unit,
          higherIsBetter: opts.higherIsBetter,
          samples: { berth: [], distribution: [] },
          cpu: { berth: 0, distribution: 0 },
          bytes: { berth: 0, distribution: 0 },
        };
        figures.push(f);
      }
      f.samples[who].push(value);
      f.cpu[who] += opts.cpu ?? 0;
      f.bytes[who] += opts.bytes ?? 0;
      if (opts.note) f.note = opts.note;
    },
  };
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Berth's advantage: > 1 means Berth is better, whichever way the unit goes. */
export function ratio(f: Figure): number {
  const b = median(f.samples.berth);
  const d = median(f.samples.distribution);
  return f.higherIsBetter ? b / d : d / b;
}

/** Runs `fn` and returns its result with the CPU seconds `cluster`'s processes used meanwhile. */
export async function withCpu<T>(cluster: Cluster, fn: () => Promise<T>): Promise<{ value: T; cpu: number }> {
  const total = () => cluster.pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  const before = total();
  const value = await fn();
  return { value, cpu: total() - before };
}

const fmt = (x: number): string => (!Number.isFinite(x) ? "–" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));

/** The figures as a markdown table: medians, samples, ratio, CPU per GB where bytes were counted. */
export function markdown(results: Results): string {
  const lines = [
    "| workload | Berth | distribution | Berth / distribution | Berth samples | distribution samples | CPU s per GB (Berth / distribution) |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const f of results.figures) {
    const cpuPerGb = (w: Who) => (f.bytes[w] > 0 ? fmt(f.cpu[w] / (f.bytes[w] / 1e9)) : "–");
    const cpu = f.bytes.berth > 0 || f.bytes.distribution > 0 ? `${cpuPerGb("berth")} / ${cpuPerGb("distribution")}` : "–";
    lines.push(
      `| ${f.workload}${f.note ? ` (${f.note})` : ""} | ${fmt(median(f.samples.berth))} ${f.unit} | ${fmt(median(f.samples.distribution))} ${f.unit} | ` +
        `**${fmt(ratio(f))}×** | ${f.samples.berth.map(fmt).join(", ")} | ${f.samples.distribution.map(fmt).join(", ")} | ${cpu} |`,
    );
  }
  return lines.join("\n");
}

/** The issue's goals (ratios Berth / distribution), each against the figures it names. */
export const GOALS: { goal: string; min: number; workloads: RegExp }[] = [
  { goal: "push ≥ 1.2×", min: 1.2, workloads: /^push/ },
  { goal: "pull ≥ 1.0×", min: 1.0, workloads: /^pull/ },
  { goal: "small images ≥ 2×", min: 2, workloads: /^small-image pushes \(/ },
  { goal: "catalog at 10k repositories ≥ 20×", min: 20, workloads: /^_catalog/ },
];

/** One line per goal: met or missed, with the ratios it was judged on. */
export function goalLines(results: Results): string[] {
  return GOALS.map((g) => {
    const fs = results.figures.filter((f) => g.workloads.test(f.workload));
    if (fs.length === 0) return `- ${g.goal}: not measured in this run`;
    const missed = fs.filter((f) => !(ratio(f) >= g.min));
    const list = fs.map((f) => `${f.workload} ${fmt(ratio(f))}×`).join(", ");
    return `- ${g.goal}: **${missed.length === 0 ? "met" : "missed"}** (${list})`;
  });
}
