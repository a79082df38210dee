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

/** How long the pool waits on the server; see `database.connectTimeout` and `database.queryTimeout`. */
export interface PoolTimeouts {
  /** Opening a connection (default 5 s). Waiting for a free one when all are busy is bounded by the query timeout instead. */
  connectTimeoutMs?: number;
  /** One statement, from sending it to its last row (default 30 s; 0: unbounded). */
  queryTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

/**
 * Opens a pool (BIGINT parsed to JS numbers on this pool only, bounded connects and statements)
 * and brings the schema up to date before resolving; the pool is closed again when that fails.
 * Migrations run on a connection of their own without the statement bound: one may wait for
 * another node's migrations, or rewrite a large table.
 */
export async function openPool(url: string, poolSize: number, schema: Migrations, timeouts: PoolTimeouts = {}): Promise<pg.Pool> {
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, parseInt8);
  const connectionTimeoutMillis = timeouts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const queryTimeout = timeouts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  // A client-side bound only (no statement_timeout startup parameter, which PgBouncer refuses): a
  // server that stops answering fails the request in queryTimeout rather than hanging it. A
  // connection whose statement timed out is destroyed by pool.query and transaction(), never reused.
  // Opening a connection is bounded by connectTimeout (the client's own timer); waiting for a free
  // one by queryTimeout: a busy pool under a burst is queueing, not an unreachable server.
  class BoundedClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis });
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    types,
    Client: BoundedClient,
    connectionTimeoutMillis: queryTimeout > 0 ? Math.max(connectionTimeoutMillis, queryTimeout) : 0,
    keepAlive: true,
    ...(queryTimeout > 0 ? { query_timeout: queryTimeout } : {}),
  });
  // An idle connection dropped by the server must not crash the process: the pool discards it and
  // the next query opens a fresh one.
  pool.on("error", () => {});
  try {
    const client = new pg.Client({ connectionString: url, types, connectionTimeoutMillis, keepAlive: true });
    client.on("error", () => {});
    await client.connect();
    try {
      await migrate(client, schema);
    } finally {
      // Closing the session releases the advisory lock whatever state the connection is in.
      await client.end().catch(() => {});
    }
  } catch (err) {
    await pool.end();
    throw err;
  }
  return pool;
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);
/** admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections, query_canceled (a server-side statement_timeout). */
const SERVER_CODES = new Set(["57P01", "57P02", "57P03", "53300", "57014"]);

/**
 * Why `err` means PostgreSQL is unreachable or too slow, in words for the 503 and the log, or
 * undefined for any other error (a constraint violation, a bug) so it stays a 500.
 */
export function postgresUnavailable(timeouts: PoolTimeouts = {}): (err: unknown) => string | undefined {
  const seconds = (ms: number) => `${ms / 1000}s`;
  const connect = seconds(timeouts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const query = seconds(timeouts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS);
  return (err) => {
    const e = err as { message?: unknown; code?: unknown } | undefined;
    const message = typeof e?.message === "string" ? e.message : "";
    const code = typeof e?.code === "string" ? e.code : "";
    if (message === "Query read timeout") return `no answer to a statement within ${query} (database.queryTimeout)`;
    if (message.includes("due to connection timeout") || message === "timeout expired") return `no connection within ${connect} (database.connectTimeout)`;
    if (message.includes("timeout exceeded when trying to connect")) {
      return `every pooled connection stayed busy for ${seconds(Math.max(timeouts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, timeouts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS))} (database.poolSize, database.queryTimeout)`;
    }
    if (CONNECTION_CODES.has(code)) return `cannot connect (${code})`;
    if (code.startsWith("08") || SERVER_CODES.has(code)) return `the server refused or ended the session (${code}: ${message})`;
    if (/^Connection terminated|is not queryable/.test(message)) return `the connection was lost (${message})`;
    return undefined;
  };
}

/**
 * Applies pending migrations under a session advisory lock, so nodes starting together apply each
 * one exactly once; each migration commits with its row in the versions table or not at all.
 */
async function migrate(client: pg.Client, { lockKey, table, createTable, migrations, label, create }: Migrations): Promise<void> {
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
}
