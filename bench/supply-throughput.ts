/**
 * Throughput of the supply-chain layer readers on a cached layer, in process: the secret scanner
 * (`scanLayer`, built-in rules, maxFileSize 10 MiB) and the SBOM layer scanner, beside a read-only
 * walk (gunzip + tar parsing, every body drained) that is the floor both pay. Rounds rotate the
 * order of the runs so drift from other work on the machine falls on each alike.
 */
import { readLayerEntries } from "../src/supply/layer-entries.js";
import { createLayerScanner } from "../src/supply/sbom/scan-image.js";
import { loadSecretRules, type SecretRuleSet } from "../src/supply/secrets/rules.js";
import { scanLayer as currentScanLayer } from "../src/supply/secrets/scan-layer.js";
import { layerStream, type BenchLayer } from "./supply-layers.js";

type ScanLayer = typeof currentScanLayer;

/** One kind of run over a layer: its label and what it does. */
export interface Reader {
  label: string;
  run(layer: BenchLayer): Promise<string>;
}

const MAX_FILE = 10 * 2 ** 20;

export function secretReader(label: string, scanLayer: ScanLayer, rules: SecretRuleSet): Reader {
  return {
    label,
    async run(layer) {
      const r = await scanLayer(layerStream(layer), rules, { maxFileSize: MAX_FILE });
      return `${r.scannedFiles}/${r.files} files read, ${(r.bytes / 1e6).toFixed(0)} MB of text, ${r.findings.length + (r.more ?? 0)} findings`;
    },
  };
}

export function readers(extra: Reader[] = []): Reader[] {
  const rules = loadSecretRules();
  return [
    {
      label: "read only (gunzip + tar)",
      async run(layer) {
        let files = 0;
        await readLayerEntries(layerStream(layer), (e, body) => {
          if (e.type === "file") files++;
          body.resume();
        });
        return `${files} files`;
      },
    },
    secretReader("secret scan", currentScanLayer, rules),
    ...extra,
    {
      label: "SBOM extraction",
      async run(layer) {
        const scanner = createLayerScanner();
        await scanner.addLayer(layerStream(layer));
        const { packages } = scanner.finish();
        return `${packages.length} packages`;
      },
    },
  ];
}

/** Seconds per run, by layer name then reader label, one value per round. */
export type Timings = Map<string, Map<string, number[]>>;

export async function measureThroughput(layers: BenchLayer[], list: Reader[], rounds: number, log: (s: string) => void): Promise<{ timings: Timings; notes: Map<string, string> }> {
  const timings: Timings = new Map(layers.map((l) => [l.name, new Map(list.map((r) => [r.label, [] as number[]]))]));
  const notes = new Map<string, string>();
  for (const layer of layers) for (const r of list) notes.set(`${layer.name}\0${r.label}`, await r.run(layer)); // warm-up: page cache, JIT
  for (let round = 0; round < rounds; round++) {
    for (const layer of layers) {
      const order = list.map((_, i) => list[(i + round) % list.length]!);
      if (round % 2 === 1) order.reverse();
      for (const r of order) {
        const t0 = performance.now();
        await r.run(layer);
        const s = (performance.now() - t0) / 1000;
        timings.get(layer.name)!.get(r.label)!.push(s);
        log(`round ${round + 1} ${layer.name} ${r.label}: ${s.toFixed(2)} s, ${(layer.tarBytes / 1e6 / s).toFixed(1)} MB/s of tar`);
      }
    }
  }
  return { timings, notes };
}
