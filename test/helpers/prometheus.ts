/** A strict reader of the Prometheus text exposition format (0.0.4), for tests of `/metrics`. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: string): number {
  const lower = text.toLowerCase();
  if (lower === "nan") return Number.NaN;
  if (lower === "+inf" || lower === "inf") return Number.POSITIVE_INFINITY;
  if (lower === "-inf") return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`not a sample value: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL_RE.lastIndex = 0;
  while (LABEL_RE.lastIndex < text.length) {
    const match = LABEL_RE.exec(text);
    if (!match) throw new Error(`malformed labels: ${line}`);
    if (match[1]! in labels) throw new Error(`label ${match[1]} twice: ${line}`);
    labels[match[1]!] = match[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    if (match[3] === "") break;
  }
  return labels;
}

/** Which family a sample line belongs to: its own name, or the histogram/summary base of `_bucket`, `_sum`, `_count`. */
function familyOf(families: Map<string, Family>, name: string): Family | undefined {
  const own = families.get(name);
  if (own) return own;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name);
  const family = base ? families.get(base[1]!) : undefined;
  if (!family) return undefined;
  if (family.type === "histogram" || (family.type === "summary" && base![2] !== "bucket")) return family;
  return undefined;
}

/**
 * Parses a whole exposition; throws on any line that is not a comment, HELP, TYPE or a sample of a
 * family declared before it (every family must have both HELP and TYPE, once).
 */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  if (!text.endsWith("\n")) throw new Error("exposition does not end with a newline");
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const help = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    if (help) {
      if (helps.has(help[1]!)) throw new Error(`HELP twice for ${help[1]}`);
      helps.set(help[1]!, help[2]!);
      continue;
    }
    const type = new RegExp(`^# TYPE (${NAME}) (\\w+)$`).exec(line);
    if (type) {
      if (families.has(type[1]!)) throw new Error(`TYPE twice for ${type[1]}`);
      if (!TYPES.has(type[2]!)) throw new Error(`unknown type: ${line}`);
      if (!helps.has(type[1]!)) throw new Error(`TYPE without HELP before it: ${line}`);
      families.set(type[1]!, { name: type[1]!, type: type[2]!, help: helps.get(type[1]!)!, samples: [] });
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = SAMPLE_RE.exec(line);
    if (!sample) throw new Error(`malformed sample line: ${line}`);
    const family = familyOf(families, sample[1]!);
    if (!family) throw new Error(`sample of an undeclared family: ${line}`);
    family.samples.push({ name: sample[1]!, labels: parseLabels(sample[2] ?? "", line), value: parseValue(sample[3]!, line) });
  }
  for (const name of helps.keys()) if (!families.has(name)) throw new Error(`HELP without TYPE for ${name}`);
  return families;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
export function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
    }
  }
  return total;
}

/**
 * Scrapes `/metrics`; with `settle` (the default) once every earlier request has been counted (only
 * the scrape itself in flight), since a response reaches the client just before its server side closes.
 */
export async function scrape(baseUrl: string, settle = true): Promise<Map<string, Family>> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${baseUrl}/metrics`);
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    const families = parseExposition(await res.text());
    if (!settle || value(families, "berth_http_requests_in_flight") <= 1 || attempt >= 200) return families;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
