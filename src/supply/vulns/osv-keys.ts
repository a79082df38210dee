import type { SupplyStore } from "../../storage/supply-store.js";

/**
 * How the offline vulnerability database is laid out in the SupplyStore, shared by the importer
 * (import.ts) and the matching service (vulns.ts):
 *
 *   osv       `<ecosystem family>/<package name>` → JSON array of CompactAdvisory, by id
 *             (`Debian/openssl`, `npm/@types/node`, `PyPI/python-multipart`: PyPI names PEP 503-normalised;
 *             no family has a `/`, so the first one separates; not NUL, which PostgreSQL text refuses)
 *   osv-ids   advisory id → OsvIdRecord: the keys it was stored under, so a re-import can remove it
 *             from a package it no longer affects
 *   osv-meta  ecosystem family → OsvMeta: advisories held, when and from which file last imported
 *
 * The generation of kind `osv` is bumped after every import: cached findings are recomputed then.
 */

export const OSV_KIND = "osv";
export const OSV_IDS_KIND = "osv-ids";
export const OSV_META_KIND = "osv-meta";

/** The OSV ecosystem without its release: `Debian:12` → `Debian`, `Ubuntu:22.04:LTS` → `Ubuntu`. */
export function ecosystemFamily(ecosystem: string): string {
  const colon = ecosystem.indexOf(":");
  return colon < 0 ? ecosystem : ecosystem.slice(0, colon);
}

/** A package name as keys hold it: PEP 503 for PyPI (`Python_Multipart` → `python-multipart`), as is elsewhere. */
export function keyName(family: string, name: string): string {
  return family === "PyPI" ? name.toLowerCase().replace(/[-_.]+/g, "-") : name;
}

export function osvKey(ecosystem: string, name: string): string {
  const family = ecosystemFamily(ecosystem);
  return `${family}/${keyName(family, name)}`;
}

/** The family part of a key (`Debian/openssl` → `Debian`). */
export function familyOfKey(key: string): string {
  return key.slice(0, key.indexOf("/"));
}

/** An OSV range event: exactly one of the fields is set. */
export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

/** One `affected` entry of an advisory, for one package (OSV schema 1.6, only what matching reads). */
export interface CompactAffected {
  package: { ecosystem: string; name: string };
  ranges?: { type: "ECOSYSTEM" | "SEMVER"; events: OsvEvent[] }[];
  versions?: string[];
  severity?: { type: string; score: string }[];
  /** Scalar fields only (Debian `urgency`, GHSA/Ubuntu `severity`); lists such as Go's `imports` are dropped. */
  ecosystem_specific?: Record<string, string | number | boolean>;
  database_specific?: Record<string, string | number | boolean>;
}

/**
 * An advisory as stored under one package key: a valid OSV record reduced to what matching
 * needs (its `affected` entries for that package alone; no details, references or GIT ranges),
 * so the matcher reads it as it reads a full record.
 */
export interface CompactAdvisory {
  schema_version?: string;
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  /** Ids this one derives from (Debian's `DEBIAN-CVE-…` name their CVE here, not in aliases). */
  upstream?: string[];
  summary?: string;
  severity?: { type: string; score: string }[];
  database_specific?: Record<string, string | number | boolean>;
  affected: CompactAffected[];
}

/** What `osv-ids` keeps per advisory id. */
export interface OsvIdRecord {
  modified: string;
  keys: string[];
}

/** What `osv-meta` keeps per ecosystem family. */
export interface OsvMeta {
  /** Advisories with at least one package of this family. */
  records: number;
  importedAt: number;
  /** The base name of the file last imported for this family. */
  source: string;
}

/** What `osv-meta` holds, per ecosystem family, and the `osv` generation: the database's state. */
export async function osvStatus(store: SupplyStore): Promise<{ generation: number; ecosystems: ({ ecosystem: string } & OsvMeta)[] }> {
  const ecosystems: ({ ecosystem: string } & OsvMeta)[] = [];
  for (let last: string | undefined; ; ) {
    const page = await store.listSupplyRecords(OSV_META_KIND, { ...(last !== undefined ? { last } : {}), limit: 100 });
    for (const r of page) ecosystems.push({ ecosystem: r.key, ...(JSON.parse(r.value) as OsvMeta) });
    if (page.length < 100) break;
    last = page[page.length - 1]!.key;
  }
  return { generation: await store.supplyGeneration(OSV_KIND), ecosystems };
}
