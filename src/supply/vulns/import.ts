import { basename } from "node:path";
import type { SupplyStore } from "../../storage/supply-store.js";
import { compactRecord } from "./compact.js";
import { parseOsvRecord } from "./osv.js";
import {
  OSV_IDS_KIND,
  OSV_KIND,
  OSV_META_KIND,
  familyOfKey,
  type OsvIdRecord,
  type OsvMeta,
} from "./osv-keys.js";
import { osvEntries } from "./osv-files.js";
import { advisoryLine, mergeValue } from "./osv-values.js";

/** Per ecosystem family, what an import did. */
export interface EcosystemImport {
  ecosystem: string;
  /** Records read that name a package of this family (now or before this import). */
  records: number;
  /** Advisories new to the database. */
  added: number;
  /** Advisories already there whose modified time or packages changed (withdrawn ones included). */
  updated: number;
  malformed: number;
  /** Advisories of this family the database holds after the import. */
  total: number;
}

export interface Malformed {
  file: string;
  /** The zip entry (or the file itself for a plain JSON file). */
  entry: string;
  id?: string;
  reason: string;
}

export interface ImportSummary {
  records: number;
  malformed: number;
  /** The first few malformed records, for the operator to look at. */
  firstMalformed: Malformed[];
  ecosystems: EcosystemImport[];
  /** The `osv` generation after the import (bumped only when something changed). */
  generation: number;
  elapsedMs: number;
}

export interface ImportProgress {
  file: string;
  records: number;
  malformed: number;
}

export interface ImportOptions {
  store: SupplyStore;
  /** OSV `all.zip` exports or single-record `.json` files, imported in order. */
  files: readonly string[];
  /** Called every `progressEvery` records read (default 5,000) and at the end of each file. */
  onProgress?: (p: ImportProgress) => void;
  progressEvery?: number;
  /** Package keys per write transaction (default 500). */
  batchKeys?: number;
  /**
   * Records are held (compacted) until they reach this many bytes (default 32 MiB), then merged
   * into the store: a package named by many advisories is rewritten once per flush, not once
   * per advisory.
   */
  pendingBytes?: number;
  now?: () => number;
}

const FIRST_MALFORMED = 10;

interface Pending {
  modified: string;
  /** The advisory's line (osv-values.ts) under each package key it names. */
  lines: Map<string, string>;
  file: string;
}

const familiesOf = (keys: Iterable<string>) => new Set([...keys].map(familyOfKey));
const sameKeys = (a: readonly string[], b: Iterable<string>) => {
  const set = new Set(b);
  return a.length === set.size && a.every((k) => set.has(k));
};
const chunks = <T>(items: readonly T[], size: number) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * Imports OSV records into the SupplyStore, updating in place: an advisory replaces what was
 * stored under its id, also under packages it no longer names (found through `osv-ids`); one
 * whose modified time and packages are unchanged is not rewritten. Records are read one at a
 * time, held compacted up to `pendingBytes`, then merged into the stored values in transactions
 * of `batchKeys` package keys. A malformed record is counted and skipped; an unreadable file
 * throws (records already written stay, each advisory whole). Two imports running at once on
 * different nodes may lose each other's changes to a package both touch: run one at a time.
 */
export async function importOsv(options: ImportOptions): Promise<ImportSummary> {
  const { store, files } = options;
  const now = options.now ?? Date.now;
  const batchKeys = options.batchKeys ?? 500;
  const maxPending = options.pendingBytes ?? 32 * 1024 * 1024;
  const progressEvery = options.progressEvery ?? 5000;
  const started = Date.now();
  const stats = new Map<string, EcosystemImport>();
  const stat = (ecosystem: string) => {
    let s = stats.get(ecosystem);
    if (!s) stats.set(ecosystem, (s = { ecosystem, records: 0, added: 0, updated: 0, malformed: 0, total: 0 }));
    return s;
  };
  const delta = new Map<string, number>();
  const sourceOf = new Map<string, string>();
  const firstMalformed: Malformed[] = [];
  let records = 0;
  let malformed = 0;
  let changed = 0;

  let pending = new Map<string, Pending>();
  let pendingSize = 0;

  const flush = async () => {
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    pendingSize = 0;
    const prevRecords = await store.getSupplyRecords(OSV_IDS_KIND, [...batch.keys()]);
    const idsBefore = new Map<string, OsvIdRecord>();
    for (const [id, p] of batch) {
      const prevText = prevRecords.get(id)?.value;
      const prev = prevText ? (JSON.parse(prevText) as OsvIdRecord) : undefined;
      const families = familiesOf([...p.lines.keys(), ...(prev?.keys ?? [])]);
      for (const f of families) {
        stat(f).records++;
        sourceOf.set(f, basename(p.file));
      }
      if ((prev && prev.modified === p.modified && sameKeys(prev.keys, p.lines.keys())) || (!prev && p.lines.size === 0)) {
        batch.delete(id);
        continue;
      }
      if (prev) idsBefore.set(id, prev);
      changed++;
      const before = familiesOf(prev?.keys ?? []);
      const after = familiesOf(p.lines.keys());
      for (const f of families) {
        if (prev) stat(f).updated++;
        else stat(f).added++;
        delta.set(f, (delta.get(f) ?? 0) + (after.has(f) ? 1 : 0) - (before.has(f) ? 1 : 0));
      }
    }
    if (batch.size === 0) return;

    const upserts = new Map<string, Map<string, string>>();
    const removals = new Map<string, Set<string>>();
    for (const [id, p] of batch) {
      for (const [key, line] of p.lines) {
        if (!upserts.has(key)) upserts.set(key, new Map());
        upserts.get(key)!.set(id, line);
      }
      for (const key of idsBefore.get(id)?.keys ?? []) {
        if (p.lines.has(key)) continue;
        if (!removals.has(key)) removals.set(key, new Set());
        removals.get(key)!.add(id);
      }
    }
    const idRecord = (p: Pending, extra: readonly string[] = []) => JSON.stringify({ modified: p.modified, keys: [...new Set([...p.lines.keys(), ...extra])] } satisfies OsvIdRecord);
    const at = now();
    // Until the packages are written, an id lists every key it may still be under (old and new), so a
    // retry after a crash between these writes still finds and removes the stale entries.
    for (const part of chunks([...batch], batchKeys)) {
      await store.putSupplyRecords(OSV_IDS_KIND, part.map(([id, p]) => ({ key: id, value: idRecord(p, idsBefore.get(id)?.keys) })), at);
    }
    for (const part of chunks([...new Set([...upserts.keys(), ...removals.keys()])], batchKeys)) {
      const existing = await store.getSupplyRecords(OSV_KIND, part);
      const puts: { key: string; value: string }[] = [];
      const deletes: string[] = [];
      for (const key of part) {
        const value = mergeValue(existing.get(key)?.value, upserts.get(key), removals.get(key));
        if (value === undefined) deletes.push(key);
        else puts.push({ key, value });
      }
      if (puts.length > 0) await store.putSupplyRecords(OSV_KIND, puts, at);
      if (deletes.length > 0) await store.deleteSupplyRecords(OSV_KIND, deletes);
    }
    const shrinking = [...batch].filter(([id, p]) => idsBefore.get(id)?.keys.some((k) => !p.lines.has(k)));
    for (const part of chunks(shrinking, batchKeys)) {
      await store.putSupplyRecords(OSV_IDS_KIND, part.map(([id, p]) => ({ key: id, value: idRecord(p) })), at);
    }
  };

  for (const file of files) {
    let unattributed = 0;
    const familiesSeen = new Set<string>();
    let fileRecords = 0;
    let fileMalformed = 0;
    const bad = (entry: string, reason: string, id?: string, family?: string) => {
      malformed++;
      fileMalformed++;
      if (family) stat(family).malformed++;
      else unattributed++;
      if (firstMalformed.length < FIRST_MALFORMED) firstMalformed.push({ file, entry, ...(id ? { id } : {}), reason });
    };
    for await (const entry of osvEntries(file)) {
      records++;
      fileRecords++;
      if (fileRecords % progressEvery === 0) options.onProgress?.({ file, records: fileRecords, malformed: fileMalformed });
      if ("error" in entry) {
        bad(entry.name, entry.error);
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(entry.text);
      } catch (err) {
        bad(entry.name, `not JSON: ${(err as Error).message}`);
        continue;
      }
      // The matcher's own parser first: a record it would refuse at scan time is refused here, with its reason.
      try {
        parseOsvRecord(json);
      } catch (err) {
        const id = (json as { id?: unknown } | null)?.id;
        bad(entry.name, (err as Error).message, typeof id === "string" && id !== "" ? id : undefined, guessFamily(json));
        continue;
      }
      const record = compactRecord(json);
      if (!record.ok) {
        bad(entry.name, record.reason, record.id, guessFamily(json));
        continue;
      }
      for (const f of familiesOf(record.byKey.keys())) familiesSeen.add(f);
      const lines = new Map([...record.byKey].map(([key, advisory]) => [key, advisoryLine(advisory)]));
      for (const line of lines.values()) pendingSize += line.length;
      pending.set(record.id, { modified: record.modified, lines, file });
      if (pendingSize >= maxPending) await flush();
    }
    await flush();
    // A record too broken to name its package counts against the file's ecosystem, when it has one (an all.zip does).
    if (unattributed > 0) stat(familiesSeen.size === 1 ? [...familiesSeen][0]! : "(unknown)").malformed += unattributed;
    if (fileRecords % progressEvery !== 0) options.onProgress?.({ file, records: fileRecords, malformed: fileMalformed });
  }

  const families = [...stats.keys()].filter((f) => f !== "(unknown)");
  const metas = await store.getSupplyRecords(OSV_META_KIND, families);
  const at = now();
  const metaPuts: { key: string; value: string }[] = [];
  for (const f of families) {
    const old = metas.get(f)?.value;
    const before = old ? (JSON.parse(old) as OsvMeta).records : 0;
    const meta: OsvMeta = { records: Math.max(0, before + (delta.get(f) ?? 0)), importedAt: at, source: sourceOf.get(f) ?? basename(files[files.length - 1] ?? "") };
    stat(f).total = meta.records;
    if (sourceOf.has(f)) metaPuts.push({ key: f, value: JSON.stringify(meta) });
  }
  if (metaPuts.length > 0) await store.putSupplyRecords(OSV_META_KIND, metaPuts, at);
  const generation = changed > 0 ? await store.bumpSupplyGeneration(OSV_KIND) : await store.supplyGeneration(OSV_KIND);
  return {
    records,
    malformed,
    firstMalformed,
    ecosystems: [...stats.values()].sort((a, b) => (a.ecosystem < b.ecosystem ? -1 : 1)),
    generation,
    elapsedMs: Date.now() - started,
  };
}

/** The family a malformed record would have belonged to, when its first package says so. */
function guessFamily(json: unknown): string | undefined {
  const affected = (json as { affected?: unknown } | null)?.affected;
  const first = Array.isArray(affected) ? (affected[0] as { package?: { ecosystem?: unknown } } | undefined) : undefined;
  const eco = first?.package?.ecosystem;
  return typeof eco === "string" && eco !== "" ? eco.split(":")[0] : undefined;
}
