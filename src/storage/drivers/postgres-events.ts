import type pg from "pg";
import type { EventRecord, EventStore } from "../event-store.js";
import {
  attemptValues,
  claimed,
  DELIVERY_COLUMNS,
  EVENT_COLUMNS,
  eventValues,
  toDelivery,
  toEvent,
  toHealth,
  type CursorRow,
  type DeliveryRow,
  type EventRow,
  type HealthRow,
} from "./event-rows.js";
import { transaction } from "./postgres-tx.js";

/**
 * The advisory lock (two-key form: "bert", 1) that gives fan-out its horizon. Two transactions
 * may commit their events out of seq order, so a cursor moved up to the newest committed seq could
 * pass over a smaller seq committed a moment later. Every transaction that inserts events holds
 * the lock shared from just before its insert until it ends; fan-out takes it exclusive, which
 * waits until every such transaction has ended, and reads max(seq) then. A writer that starts
 * afterwards draws a larger seq, so every event at or below that horizon is committed (or never will be).
 */
export const EVENT_LOCK = [1650815604, 1] as const;

const PRUNE_BATCH = 1000;

/** Appends events inside the caller's transaction, under the shared event lock. */
export async function insertEvents(client: pg.PoolClient, events: readonly EventRecord[] | undefined): Promise<void> {
  if (!events || events.length === 0) return;
  await client.query("SELECT pg_advisory_xact_lock_shared($1, $2)", [...EVENT_LOCK]);
  const rows = events.map(eventValues);
  await client.query(
    `INSERT INTO events (id, type, time, repository, data)
     SELECT id, type, time, repository, data
     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) WITH ORDINALITY AS r(id, type, time, repository, data, n)
     ORDER BY n ON CONFLICT (id) DO NOTHING`,
    [0, 1, 2, 3, 4].map((i) => rows.map((r) => r[i])),
  );
}

/** Runs a one-statement change; with events, in a transaction that records them when the statement changed a row. */
export async function changeWithEvents(
  pool: pg.Pool,
  events: readonly EventRecord[] | undefined,
  text: string,
  values: unknown[],
): Promise<boolean> {
  if (!events || events.length === 0) return ((await pool.query(text, values)).rowCount ?? 0) > 0;
  return transaction(pool, async (client) => {
    if (((await client.query(text, values)).rowCount ?? 0) === 0) return false;
    await insertEvents(client, events);
    return true;
  });
}

/**
 * The EventStore half of the PostgreSQL metadata store, for several nodes at once: fan-out reads
 * below the horizon (EVENT_LOCK) holding the endpoint's cursor row FOR UPDATE; claims lease rows
 * FOR UPDATE SKIP LOCKED, so two nodes claim disjoint sets; fan-out, replay and prune lock the
 * event rows they rely on, so a prune never deletes an event a delivery is being made for.
 */
export function createPostgresEvents(pool: pg.Pool): EventStore {
  const horizon = () =>
    transaction(pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1, $2)", [...EVENT_LOCK]);
      // A new statement, so a new snapshot: it sees every writer the lock waited for.
      return (await client.query<{ seq: number }>("SELECT COALESCE(MAX(seq), 0)::bigint AS seq FROM events")).rows[0]!.seq;
    });

  return {
    async appendEvents(events) {
      if (events.length > 0) await transaction(pool, (client) => insertEvents(client, events));
    },

    async listEvents(filter) {
      const { rows } = await pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.seq > $1 AND ($2::bigint IS NULL OR e.time >= $2)
         ORDER BY e.seq LIMIT $3`,
        [filter.afterSeq ?? 0, filter.since ?? null, filter.limit],
      );
      return rows.map(toEvent);
    },

    async getEvent(id) {
      const { rows } = await pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.id = $1`, [id]);
      return rows[0] && toEvent(rows[0]);
    },

    async fanOutEvents(endpoint, accept, limit) {
      const until = await horizon();
      return transaction(pool, async (client) => {
        await client.query("INSERT INTO webhook_cursors (endpoint, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING", [endpoint, until]);
        const cursor = (await client.query<{ seq: number | null }>("SELECT seq FROM webhook_cursors WHERE endpoint = $1 FOR UPDATE", [endpoint]))
          .rows[0]!.seq;
        if (cursor === null) {
          await client.query("UPDATE webhook_cursors SET seq = $2 WHERE endpoint = $1", [endpoint, until]);
          return 0;
        }
        const { rows } = await client.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.seq > $1 AND e.seq <= $2 ORDER BY e.seq LIMIT $3 FOR KEY SHARE`,
          [cursor, until, limit],
        );
        if (rows.length === 0) return 0;
        const accepted = rows.map(toEvent).filter(accept);
        if (accepted.length > 0) {
          await client.query(
            `INSERT INTO webhook_deliveries (endpoint, seq, repository, state, attempts, next_at)
             SELECT $1, r.seq, r.repository, 'pending', 0, $4 FROM unnest($2::bigint[], $3::text[]) AS r(seq, repository)
             ON CONFLICT DO NOTHING`,
            [endpoint, accepted.map((e) => e.seq), accepted.map((e) => e.repository ?? ""), Date.now()],
          );
        }
        await client.query("UPDATE webhook_cursors SET seq = $2 WHERE endpoint = $1", [endpoint, rows.at(-1)!.seq]);
        return rows.length;
      });
    },

    async claimDeliveries(endpoint, owner, now, leaseUntil, limit) {
      const { rows } = await pool.query<DeliveryRow>(
        `WITH c AS (
           SELECT d.seq FROM webhook_deliveries d
           WHERE d.endpoint = $1 AND d.state = 'pending' AND d.next_at <= $3
             AND (d.lease_until IS NULL OR d.lease_until <= $3)
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint = d.endpoint
                             AND p.repository = d.repository AND p.state = 'pending' AND p.seq < d.seq)
           ORDER BY d.seq LIMIT $5 FOR UPDATE SKIP LOCKED
         ), d AS (
           UPDATE webhook_deliveries w SET lease_owner = $2, lease_until = $4 FROM c
           WHERE w.endpoint = $1 AND w.seq = c.seq RETURNING w.*
         )
         SELECT ${DELIVERY_COLUMNS} FROM d JOIN events e ON e.seq = d.seq ORDER BY d.seq`,
        [endpoint, owner, now, leaseUntil, limit],
      );
      return rows.map((row) => claimed(endpoint, row));
    },

    async recordAttempt(endpoint, seq, owner, attempt) {
      const v = attemptValues(attempt);
      return transaction(pool, async (client) => {
        const { rowCount } = await client.query(
          `UPDATE webhook_deliveries SET state = $4, attempts = attempts + 1, next_at = $5, lease_owner = NULL,
             lease_until = NULL, last_attempt_at = $6, last_status = $7, last_error = $8, delivered_at = $9
           WHERE endpoint = $1 AND seq = $2 AND state = 'pending' AND lease_owner = $3`,
          [endpoint, seq, owner, v.state, v.nextAt, attempt.at, v.status, v.error, v.deliveredAt],
        );
        if (!rowCount) return false;
        await client.query(
          attempt.delivered
            ? `INSERT INTO webhook_cursors (endpoint, last_success_at) VALUES ($1, $2) ON CONFLICT (endpoint) DO UPDATE
               SET last_success_at = excluded.last_success_at
               WHERE webhook_cursors.last_success_at IS NULL OR webhook_cursors.last_success_at <= excluded.last_success_at`
            : `INSERT INTO webhook_cursors (endpoint, last_failure_at, last_error) VALUES ($1, $2, $3) ON CONFLICT (endpoint) DO UPDATE
               SET last_failure_at = excluded.last_failure_at, last_error = excluded.last_error
               WHERE webhook_cursors.last_failure_at IS NULL OR webhook_cursors.last_failure_at <= excluded.last_failure_at`,
          attempt.delivered ? [endpoint, attempt.at] : [endpoint, attempt.at, attempt.error],
        );
        return true;
      });
    },

    async replayDeliveries(endpoint, events, now) {
      if (events.length === 0) return 0;
      // The event rows are locked KEY SHARE first, so a prune either finished before (the event is
      // skipped) or waits and then sees the delivery pending.
      const { rowCount } = await pool.query(
        `INSERT INTO webhook_deliveries (endpoint, seq, repository, state, attempts, next_at, replayed_at)
         SELECT $1, e.seq, COALESCE(e.repository, ''), 'pending', 0, $2, $2 FROM events e
         WHERE e.seq = ANY($3::bigint[]) ORDER BY e.seq FOR KEY SHARE
         ON CONFLICT (endpoint, seq) DO UPDATE SET state = 'pending', attempts = 0, next_at = excluded.next_at,
           lease_owner = NULL, lease_until = NULL, last_attempt_at = NULL, last_status = NULL, last_error = NULL,
           delivered_at = NULL, replayed_at = excluded.replayed_at`,
        [endpoint, now, [...new Set(events.map((e) => e.seq))]],
      );
      return rowCount ?? 0;
    },

    async listDeliveries(filter) {
      const { rows } = await pool.query<DeliveryRow>(
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN events e ON e.seq = d.seq
         WHERE ($1::text IS NULL OR d.endpoint = $1) AND ($2::text IS NULL OR d.state = $2)
           AND d.seq IN (SELECT DISTINCT p.seq FROM webhook_deliveries p
                         WHERE ($1::text IS NULL OR p.endpoint = $1) AND ($2::text IS NULL OR p.state = $2) AND p.seq > $3
                         ORDER BY p.seq LIMIT $4)
         ORDER BY d.seq, d.endpoint`,
        [filter.endpoint ?? null, filter.state ?? null, filter.afterSeq ?? 0, filter.limit],
      );
      return rows.map(toDelivery);
    },

    async deliveryHealth() {
      // REPEATABLE READ: the counts and the cursors are read in one snapshot.
      return transaction(pool, async (client) => {
        await client.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
        const counts = await client.query<HealthRow>(
          `SELECT endpoint, COUNT(*) FILTER (WHERE state = 'pending')::int AS backlog,
             COUNT(*) FILTER (WHERE state = 'failed')::int AS failed, COUNT(*) FILTER (WHERE state = 'delivered')::int AS delivered
           FROM webhook_deliveries GROUP BY endpoint`,
        );
        const cursors = await client.query<CursorRow>("SELECT endpoint, seq, last_success_at, last_failure_at, last_error FROM webhook_cursors");
        return toHealth(counts.rows, cursors.rows);
      });
    },

    async pruneEvents(before) {
      let deleted = 0;
      for (let last = 0; ; ) {
        const batch = await transaction(pool, async (client) => {
          // Lock first (fan-out and replay hold the events they use KEY SHARE), then check in new statements.
          const locked = (
            await client.query<{ seq: number }>(
              "SELECT seq FROM events WHERE time < $1 AND seq > $2 ORDER BY seq LIMIT $3 FOR UPDATE",
              [before, last, PRUNE_BATCH],
            )
          ).rows.map((r) => r.seq);
          if (locked.length === 0) return { locked, count: 0 };
          await client.query(
            `DELETE FROM webhook_deliveries d WHERE d.seq = ANY($1::bigint[]) AND d.state <> 'pending'
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.seq = d.seq AND p.state = 'pending')`,
            [locked],
          );
          const { rowCount } = await client.query(
            "DELETE FROM events e WHERE e.seq = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.seq = e.seq)",
            [locked],
          );
          return { locked, count: rowCount ?? 0 };
        });
        deleted += batch.count;
        if (batch.locked.length < PRUNE_BATCH) return deleted;
        last = batch.locked.at(-1)!;
      }
    },
  };
}
