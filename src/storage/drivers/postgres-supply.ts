import type pg from "pg";
import type { SupplyRecord, SupplyStore } from "../supply-store.js";
import { transaction } from "./postgres-tx.js";

const BATCH = 500;

/** The SupplyStore half of the PostgreSQL metadata store. */
export function createPostgresSupply(pool: pg.Pool): SupplyStore {
  return {
    async getSupplyRecord(kind, key) {
      const { rows } = await pool.query<{ value: string; updated_at: string }>("SELECT value, updated_at FROM supply_records WHERE kind = $1 AND key = $2", [kind, key]);
      return rows[0] ? { value: rows[0].value, updatedAt: Number(rows[0].updated_at) } : undefined;
    },
    async getSupplyRecords(kind, keys) {
      const found = new Map<string, SupplyRecord>();
      const unique = [...new Set(keys)];
      for (let i = 0; i < unique.length; i += BATCH) {
        const { rows } = await pool.query<{ key: string; value: string; updated_at: string }>(
          "SELECT key, value, updated_at FROM supply_records WHERE kind = $1 AND key = ANY($2::text[])",
          [kind, unique.slice(i, i + BATCH)],
        );
        for (const row of rows) found.set(row.key, { value: row.value, updatedAt: Number(row.updated_at) });
      }
      return found;
    },
    async putSupplyRecords(kind, entries, now = Date.now()) {
      if (entries.length === 0) return;
      await transaction(pool, async (client) => {
        for (let i = 0; i < entries.length; i += BATCH) {
          const batch = entries.slice(i, i + BATCH);
          // One key twice in a batch would make ON CONFLICT touch a row twice; the last value wins, as it would one by one.
          const last = new Map(batch.map((e) => [e.key, e.value]));
          await client.query(
            `INSERT INTO supply_records (kind, key, value, updated_at)
             SELECT $1, k, v, $4 FROM unnest($2::text[], $3::text[]) AS t(k, v)
             ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
            [kind, [...last.keys()], [...last.values()], now],
          );
        }
      });
    },
    async deleteSupplyRecords(kind, keys) {
      const { rowCount } = await pool.query("DELETE FROM supply_records WHERE kind = $1 AND key = ANY($2::text[])", [kind, [...new Set(keys)]]);
      return rowCount ?? 0;
    },
    async listSupplyRecords(kind, page) {
      const { rows } = await pool.query<{ key: string; value: string; updated_at: string }>(
        "SELECT key, value, updated_at FROM supply_records WHERE kind = $1 AND key > $2 ORDER BY key LIMIT $3",
        [kind, page.last ?? "", page.limit],
      );
      return rows.map((r) => ({ key: r.key, value: r.value, updatedAt: Number(r.updated_at) }));
    },
    async countSupplyRecords(kind) {
      const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM supply_records WHERE kind = $1", [kind]);
      return Number(rows[0]!.n);
    },
    async supplyGeneration(kind) {
      const { rows } = await pool.query<{ generation: string }>("SELECT generation FROM supply_generations WHERE kind = $1", [kind]);
      return rows[0] ? Number(rows[0].generation) : 0;
    },
    async bumpSupplyGeneration(kind) {
      const { rows } = await pool.query<{ generation: string }>(
        `INSERT INTO supply_generations (kind, generation) VALUES ($1, 1)
         ON CONFLICT (kind) DO UPDATE SET generation = supply_generations.generation + 1 RETURNING generation`,
        [kind],
      );
      return Number(rows[0]!.generation);
    },
  };
}
