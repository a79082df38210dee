import type pg from "pg";

/** deadlock_detected, serialization_failure: the transaction was rolled back whole and can simply run again. */
const RETRYABLE = new Set(["40P01", "40001"]);
export const ATTEMPTS = 3;

/** A statement that timed out client-side, or a connection that broke: the session cannot be trusted. */
function lostConnection(err: unknown): boolean {
  const message = (err as { message?: unknown } | undefined)?.message;
  return message === "Query read timeout" || (typeof message === "string" && /^Connection terminated|is not queryable/.test(message));
}

/**
 * Runs `fn` between BEGIN and COMMIT on one pooled connection, rolling back when it throws, and
 * running it again (up to ATTEMPTS times) when PostgreSQL aborted it for a deadlock.
 */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      if (lostConnection(err)) {
        // The statement may still be running on a stalled server, and a ROLLBACK would wait behind
        // it: drop the connection instead (PostgreSQL rolls back a transaction whose session ends).
        broken = err as Error;
        throw err;
      }
      try {
        await client.query("ROLLBACK");
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
      const code = (err as { code?: unknown }).code;
      if (attempt < ATTEMPTS && typeof code === "string" && RETRYABLE.has(code)) continue;
      throw err;
    } finally {
      // A connection that could not roll back is in an unknown state: destroy it rather than pool it.
      client.release(broken);
    }
  }
}


/**
 * The repository's id, creating it when absent; safe when other nodes create the same name at once.
 * The row is held `FOR KEY SHARE` until COMMIT, so a repository delete (which takes it `FOR UPDATE`)
 * waits for this transaction, or this one waits for the delete and then creates the repository anew.
 */
export async function ensureRepository(client: pg.PoolClient, name: string): Promise<number> {
  const existing = await client.query<{ id: number }>("SELECT id FROM repositories WHERE name = $1 FOR KEY SHARE", [name]);
  if (existing.rows[0]) return existing.rows[0].id;
  const inserted = await client.query<{ id: number }>(
    "INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id",
    [name, Date.now()],
  );
  if (inserted.rows[0]) return inserted.rows[0].id;
  // Lost the race: the INSERT waited for the winner to commit, and this new statement sees its row.
  const winner = await client.query<{ id: number }>("SELECT id FROM repositories WHERE name = $1 FOR KEY SHARE", [name]);
  if (!winner.rows[0]) throw new Error(`repository ${name} vanished while being created`);
  return winner.rows[0].id;
}

