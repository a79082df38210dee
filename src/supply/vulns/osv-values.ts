import type { CompactAdvisory } from "./osv-keys.js";

/**
 * The text of an `osv` value: a JSON array holding one advisory per line, sorted by id, each line
 * starting with its id (`{"id":"DSA-5532-1",…}`). Readers parse it as the JSON it is; the importer
 * merges it line by line, so a package with thousands of advisories is not parsed and rebuilt
 * whole for each one that changes.
 */

/** One advisory as a line of a value: JSON with `id` first (compactRecord builds it so). */
export function advisoryLine(advisory: CompactAdvisory): string {
  return JSON.stringify(advisory);
}

const ID = /^\{"id":("(?:[^"\\]|\\.)*")/;

/** The lines of a stored value by advisory id; a value in any other JSON layout is read the slow way. */
export function valueLines(value: string): Map<string, string> {
  const lines = new Map<string, string>();
  if (value.startsWith("[\n")) {
    for (const raw of value.slice(2, -2).split("\n")) {
      const line = raw.endsWith(",") ? raw.slice(0, -1) : raw;
      const m = ID.exec(line);
      if (!m) return parsedLines(value);
      lines.set(JSON.parse(m[1]!) as string, line);
    }
    return lines;
  }
  return parsedLines(value);
}

function parsedLines(value: string): Map<string, string> {
  return new Map(
    (JSON.parse(value) as CompactAdvisory[]).map(({ id, ...rest }) => [id, advisoryLine({ id, ...rest } as CompactAdvisory)]),
  );
}

/** `lines` as a stored value, by id; undefined when there are none (the key is deleted). */
export function valueOf(lines: Map<string, string>): string | undefined {
  if (lines.size === 0) return undefined;
  const ids = [...lines.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `[\n${ids.map((id) => lines.get(id)!).join(",\n")}\n]`;
}

/** The stored value `existing` with `upserts` put in and `removals` taken out. */
export function mergeValue(existing: string | undefined, upserts: ReadonlyMap<string, string> | undefined, removals: ReadonlySet<string> | undefined): string | undefined {
  const lines = existing ? valueLines(existing) : new Map<string, string>();
  for (const id of removals ?? []) lines.delete(id);
  for (const [id, line] of upserts ?? []) lines.set(id, line);
  return valueOf(lines);
}
