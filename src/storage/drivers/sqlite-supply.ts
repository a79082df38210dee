import type Database from "better-sqlite3";
import type { SupplyRecord, SupplyStore } from "../supply-store.js";

/** SQLite's limit on bound parameters is far above this; batches keep statements reusable. */
const BATCH = 500;

/** The SupplyStore half of the SQLite metadata store. */
export function createSqliteSupply(db: Database.Database): SupplyStore {
  const q = {
    get: db.prepare<[string, string], { value: string; updated_at: number }>("SELECT value, updated_at FROM supply_records WHERE kind = ? AND key = ?"),
    put: db.prepare("INSERT INTO supply_records (kind, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"),
    del: db.prepare("DELETE FROM supply_records WHERE kind = ? AND key = ?"),
    list: db.prepare<[string, string, number], { key: string; value: string; updated_at: number }>(
      "SELECT key, value, updated_at FROM supply_records WHERE kind = ? AND key > ? ORDER BY key LIMIT ?",
    ),
    count: db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM supply_records WHERE kind = ?"),
    generation: db.prepare<[string], { generation: number }>("SELECT generation FROM supply_generations WHERE kind = ?"),
    bump: db.prepare<[string], { generation: number }>(
      "INSERT INTO supply_generations (kind, generation) VALUES (?, 1) ON CONFLICT (kind) DO UPDATE SET generation = generation + 1 RETURNING generation",
    ),
  };
  const many = new Map<number, Database.Statement<string[], { key: string; value: string; updated_at: number }>>();
  const manyOf = (n: number) => {
    let statement = many.get(n);
    if (!statement) {
      statement = db.prepare(`SELECT key, value, updated_at FROM supply_records WHERE kind = ? AND key IN (${Array(n).fill("?").join(",")})`);
      many.set(n, statement);
    }
    return statement;
  };
  const putAll = db.transaction((kind: string, entries: readonly { key: string; value: string }[], now: number) => {
    for (const e of entries) q.put.run(kind, e.key, e.value, now);
  });
  const deleteAll = db.transaction((kind: string, keys: readonly string[]) => keys.reduce((n, key) => n + q.del.run(kind, key).changes, 0));

  return {
    async getSupplyRecord(kind, key) {
      const row = q.get.get(kind, key);
      return row ? { value: row.value, updatedAt: row.updated_at } : undefined;
    },
    async getSupplyRecords(kind, keys) {
      const found = new Map<string, SupplyRecord>();
      const unique = [...new Set(keys)];
      for (let i = 0; i < unique.length; i += BATCH) {
        const batch = unique.slice(i, i + BATCH);
        for (const row of manyOf(batch.length).all(kind, ...batch)) found.set(row.key, { value: row.value, updatedAt: row.updated_at });
      }
      return found;
    },
    async putSupplyRecords(kind, entries, now = Date.now()) {
      putAll(kind, entries, now);
    },
    async deleteSupplyRecords(kind, keys) {
      return deleteAll(kind, keys);
    },
    async listSupplyRecords(kind, page) {
      return q.list.all(kind, page.last ?? "", page.limit).map((r) => ({ key: r.key, value: r.value, updatedAt: r.updated_at }));
    },
    async countSupplyRecords(kind) {
      return q.count.get(kind)!.n;
    },
    async supplyGeneration(kind) {
      return q.generation.get(kind)?.generation ?? 0;
    },
    async bumpSupplyGeneration(kind) {
      return q.bump.get(kind)!.generation;
    },
  };
}
