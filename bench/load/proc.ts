/**
 * What /proc says about a server process: resident memory (now and peak) and open descriptors.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Memory of a process in bytes. */
export interface ProcMemory {
  rss: number;
  hwm: number;
}

export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Samples RSS every `everyMs` until stopped; resolves with the highest RSS and VmHWM seen. */
export function createMemorySampler(pid: number, everyMs = 250): { stop(): ProcMemory } {
  let peak: ProcMemory = { rss: 0, hwm: 0 };
  const sample = () => {
    try {
      const m = procMemory(pid);
      peak = { rss: Math.max(peak.rss, m.rss), hwm: Math.max(peak.hwm, m.hwm) };
    } catch {
      // the process is gone; keep what was seen
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}
