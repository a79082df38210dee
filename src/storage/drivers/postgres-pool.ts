import pg from "pg";
import { StoreMissingError } from "./store-missing.js";

/** What both PostgreSQL stores need: a pool that parses BIGINT to numbers, and locked migrations. */

const INT8_OID = 20;

function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`BIGINT ${value} does not fit a JavaScript number`);
  return n;
}

export interface Migrations {
  /** Session advisory lock key that serialises these migrations across nodes. */
  lockKey: string;
  /** The table recording applied versions (created first, under the lock). */
  table: string;
  createTable: string;
  /** `migrations[i]` is version `i + 1`. */
  migrations: readonly string[];
  /** Names the schema in errors ("database", "auth"). */
  label: string;
  /** Create the schema when `table` is absent (default false: a StoreMissingError, nothing created). */
  create?: boolean;
}

/**
 * Opens a pool (BIGINT parsed to JS numbers on this pool only, connections given up after 10 s)
 * and brings the schema up to date before resolving; the pool is closed again when that fails.
 */
export async function openPool(url: string, poolSize: number, schema: Migrations): Promise<pg.Pool> {
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, parseInt8);
  // A database that cannot be reached fails requests (and /readyz) in 10 s rather than hanging them.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types, connectionTimeoutMillis: 10_000 });
  // An idle connection dropped by the server must not crash the process: the pool discards it and
  // the next query opens a fresh one.
  pool.on("error", () => {});
  try {
    await migrate(pool, schema);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return pool;
}

/**
 * Applies pending migrations under a session advisory lock, so nodes starting together apply each
 * one exactly once; each migration commits with its row in the versions table or not at all.
 */
async function migrate(pool: pg.Pool, { lockKey, table, createTable, migrations, label, create }: Migrations): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [lockKey]);
    if (!create) {
      const { rows: found } = await client.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [table]);
      if (!found[0]?.t) throw new StoreMissingError(`table ${table}`);
    }
    await client.query(createTable);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${table}`);
    const applied = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...applied);
    if (newest > migrations.length) {
      throw new Error(`${label} schema version ${newest} is newer than this Berth (${migrations.length})`);
    }
    for (let version = 1; version <= migrations.length; version++) {
      if (applied.has(version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(migrations[version - 1]!);
        await client.query(`INSERT INTO ${table} (version, applied_at) VALUES ($1, $2)`, [version, Date.now()]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw err;
      }
    }
    await client.query("SELECT pg_advisory_unlock($1)", [lockKey]);
  } catch (err) {
    // Closing the session releases the advisory lock whatever state the connection is in.
    client.release(err as Error);
    throw err;
  }
  client.release();
}
