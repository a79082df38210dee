import type { Readable } from "node:stream";
import { readLayerEntries } from "../layer-entries.js";
import { keywordIndexOf } from "./keywords.js";
import { createTextScan, type SecretFinding } from "./match.js";
import type { SecretRuleSet } from "./rules.js";

/** What scanning one layer found, and how much it read. */
export interface LayerScan {
  findings: SecretFinding[];
  /** Findings beyond the ones listed (a layer full of test keys). */
  more?: number;
  /** Regular files in the layer, and of them those read for content. */
  files: number;
  scannedFiles: number;
  /** Bytes of file content read (uncompressed). */
  bytes: number;
}

export interface LayerScanOptions {
  /** Files larger than this are not read (path rules still apply). */
  maxFileSize: number;
}

/** A file with a NUL in its first bytes is binary: not read further. */
const BINARY_SNIFF = 8192;
const MAX_PER_LAYER = 100;

/**
 * Streams a layer (tar, gzip or plain) and scans each regular file: path rules on its name,
 * content rules on its text. Every layer is scanned whole, whiteouts included: a file an upper
 * layer deletes is still in this layer's blob, which anyone who may pull the image can download.
 * Rejects with a LayerFormatError when the blob is not a layer Berth can read.
 */
export async function scanLayer(layer: Readable, rules: SecretRuleSet, { maxFileSize }: LayerScanOptions): Promise<LayerScan> {
  const pathRules = rules.rules.filter((r) => r.kind === "path");
  const contentRules = rules.rules.filter((r) => r.kind === "content");
  const unlimited = contentRules.filter((r) => !r.pathLimited);
  const limited = contentRules.filter((r) => r.pathLimited);
  const keywords = keywordIndexOf(contentRules);
  const result: LayerScan = { findings: [], files: 0, scannedFiles: 0, bytes: 0 };
  const add = (findings: SecretFinding[]) => {
    for (const f of findings) {
      if (result.findings.length < MAX_PER_LAYER) result.findings.push(f);
      else result.more = (result.more ?? 0) + 1;
    }
  };
  await readLayerEntries(layer, async (entry, body) => {
    if (entry.type !== "file") return;
    result.files++;
    if (entry.size === 0) return;
    for (const rule of pathRules) {
      rule.pattern.lastIndex = 0;
      if (rule.appliesTo(entry.path) && rule.pattern.test(entry.path)) add([{ rule: rule.id, description: rule.description, file: entry.path }]);
    }
    if (entry.size > maxFileSize) return;
    const applicable = limited.length === 0 ? unlimited : [...unlimited, ...limited.filter((r) => r.appliesTo(entry.path))];
    if (applicable.length === 0) return;
    const scan = createTextScan(applicable, { file: entry.path }, keywords);
    let sniffed = 0;
    let binary = false;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (binary) continue;
      if (sniffed < BINARY_SNIFF) {
        binary = chunk.subarray(0, BINARY_SNIFF - sniffed).includes(0);
        sniffed += chunk.length;
        if (binary) continue;
      }
      result.bytes += chunk.length;
      scan.feed(chunk.toString("latin1"));
    }
    if (binary) return;
    result.scannedFiles++;
    add(scan.end());
  });
  return result;
}
