import { osvKey, type CompactAdvisory, type CompactAffected, type OsvEvent } from "./osv-keys.js";

/** A record split by package key, or why it cannot be used. */
export type Compacted =
  | { ok: true; id: string; modified: string; byKey: Map<string, CompactAdvisory> }
  | { ok: false; id?: string; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

function scalars(v: unknown): Record<string, string | number | boolean> | undefined {
  if (!isObject(v)) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === "string" || typeof x === "number" || typeof x === "boolean") out[k] = x;
  return Object.keys(out).length > 0 ? out : undefined;
}

function severities(v: unknown, where: string): { type: string; score: string }[] | string | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => isObject(s) && typeof s.type === "string" && typeof s.score === "string")) return `${where} is not a list of {type, score}`;
  return v.map((s) => ({ type: s.type as string, score: s.score as string }));
}

const EVENT_FIELDS = ["introduced", "fixed", "last_affected", "limit"] as const;

function compactAffected(a: unknown, i: number): CompactAffected | string | undefined {
  if (!isObject(a)) return `affected[${i}] is not an object`;
  const pkg = a.package;
  // OSV allows affected entries without a package (GIT-only upstream data): nothing to match by name.
  if (pkg === undefined) return undefined;
  if (!isObject(pkg) || typeof pkg.ecosystem !== "string" || typeof pkg.name !== "string" || pkg.ecosystem === "" || pkg.name === "") {
    return `affected[${i}].package needs an ecosystem and a name`;
  }
  const out: CompactAffected = { package: { ecosystem: pkg.ecosystem, name: pkg.name } };
  if (a.ranges !== undefined) {
    if (!Array.isArray(a.ranges)) return `affected[${i}].ranges is not a list`;
    const ranges: NonNullable<CompactAffected["ranges"]> = [];
    for (const [j, r] of a.ranges.entries()) {
      if (!isObject(r) || typeof r.type !== "string" || !Array.isArray(r.events)) return `affected[${i}].ranges[${j}] needs a type and events`;
      if (r.type !== "ECOSYSTEM" && r.type !== "SEMVER") continue; // GIT ranges name commits, not package versions
      const events: OsvEvent[] = [];
      for (const e of r.events) {
        const field = isObject(e) ? EVENT_FIELDS.find((f) => typeof e[f] === "string") : undefined;
        if (!field) return `affected[${i}].ranges[${j}] has an event that is not introduced, fixed, last_affected or limit`;
        events.push({ [field]: (e as Record<string, string>)[field] });
      }
      ranges.push({ type: r.type, events });
    }
    if (ranges.length > 0) out.ranges = ranges;
  }
  if (a.versions !== undefined) {
    if (!isStringArray(a.versions)) return `affected[${i}].versions is not a list of strings`;
    if (a.versions.length > 0) out.versions = a.versions;
  }
  const severity = severities(a.severity, `affected[${i}].severity`);
  if (typeof severity === "string") return severity;
  if (severity) out.severity = severity;
  const eco = scalars(a.ecosystem_specific);
  if (eco) out.ecosystem_specific = eco;
  const db = scalars(a.database_specific);
  if (db) out.database_specific = db;
  return out;
}

/**
 * Checks an OSV record's shape (what matching relies on) and splits it by package key: each key
 * gets the record with only that package's `affected` entries (a Debian advisory naming openssl in
 * Debian:11 and Debian:12 gives one key with both). A withdrawn record affects no key.
 */
export function compactRecord(json: unknown): Compacted {
  if (!isObject(json)) return { ok: false, reason: "not a JSON object" };
  const id = typeof json.id === "string" && json.id !== "" ? json.id : undefined;
  if (!id) return { ok: false, reason: "no id" };
  if (typeof json.modified !== "string" || Number.isNaN(Date.parse(json.modified))) return { ok: false, id, reason: "no valid modified time" };
  if (json.aliases !== undefined && !isStringArray(json.aliases)) return { ok: false, id, reason: "aliases is not a list of strings" };
  if (json.upstream !== undefined && !isStringArray(json.upstream)) return { ok: false, id, reason: "upstream is not a list of strings" };
  if (json.affected !== undefined && !Array.isArray(json.affected)) return { ok: false, id, reason: "affected is not a list" };
  const severity = severities(json.severity, "severity");
  if (typeof severity === "string") return { ok: false, id, reason: severity };

  const head: Omit<CompactAdvisory, "affected"> = { id, modified: json.modified };
  if (typeof json.schema_version === "string") head.schema_version = json.schema_version;
  if (typeof json.published === "string") head.published = json.published;
  if (json.aliases?.length) head.aliases = json.aliases;
  if ((json.upstream as string[] | undefined)?.length) head.upstream = json.upstream as string[];
  if (typeof json.summary === "string" && json.summary !== "") head.summary = json.summary;
  else if (typeof json.details === "string" && json.details !== "") head.summary = firstLine(json.details);
  if (severity) head.severity = severity;
  const db = scalars(json.database_specific);
  if (db) head.database_specific = db;

  const byKey = new Map<string, CompactAdvisory>();
  if (typeof json.withdrawn === "string") return { ok: true, id, modified: json.modified, byKey };
  for (const [i, a] of ((json.affected as unknown[] | undefined) ?? []).entries()) {
    const entry = compactAffected(a, i);
    if (typeof entry === "string") return { ok: false, id, reason: entry };
    if (!entry) continue;
    const key = osvKey(entry.package.ecosystem, entry.package.name);
    const advisory = byKey.get(key);
    if (advisory) advisory.affected.push(entry);
    else byKey.set(key, { ...head, affected: [entry] });
  }
  return { ok: true, id, modified: json.modified, byKey };
}

/** Advisories without a summary (Debian's) get the first sentence of their details, within reason. */
function firstLine(details: string): string {
  const line = details.trim().split(/\n|(?<=\.)\s/)[0]!;
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}
