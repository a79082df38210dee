import type Database from "better-sqlite3";
import type { ClaimedDelivery, EventRecord, EventStore, StoredEvent } from "../event-store.js";
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

/** Appends events inside the caller's transaction (a change's own, so they commit or vanish with it). */
export type RecordEvents = (events: readonly EventRecord[] | undefined) => void;

/**
 * The EventStore half of the SQLite metadata store. Writes run in IMMEDIATE transactions: SQLite's
 * single writer makes seq order the commit order, so a cursor can never pass over an event that
 * commits later, and two fan-outs or claims never interleave.
 */
export function createSqliteEvents(db: Database.Database): { events: EventStore; record: RecordEvents } {
  const q = {
    insert: db.prepare("INSERT INTO events (id, type, time, repository, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"),
    list: db.prepare<{ after: number; since: number | null; limit: number }, EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.seq > @after AND (@since IS NULL OR e.time >= @since)
       ORDER BY e.seq LIMIT @limit`,
    ),
    get: db.prepare<[string], EventRow>(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.id = ?`),
    cursor: db.prepare<[string], { seq: number | null }>("SELECT seq FROM webhook_cursors WHERE endpoint = ?"),
    newest: db.prepare<[], { seq: number }>("SELECT COALESCE(MAX(seq), 0) AS seq FROM events"),
    setCursor: db.prepare(
      "INSERT INTO webhook_cursors (endpoint, seq) VALUES (?, ?) ON CONFLICT (endpoint) DO UPDATE SET seq = excluded.seq",
    ),
    addDelivery: db.prepare(
      `INSERT INTO webhook_deliveries (endpoint, seq, repository, state, attempts, next_at)
       VALUES (?, ?, ?, 'pending', 0, ?) ON CONFLICT DO NOTHING`,
    ),
    claimable: db.prepare<{ endpoint: string; now: number; limit: number }, { seq: number }>(
      `SELECT d.seq FROM webhook_deliveries d
       WHERE d.endpoint = @endpoint AND d.state = 'pending' AND d.next_at <= @now
         AND (d.lease_until IS NULL OR d.lease_until <= @now)
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint = d.endpoint
                         AND p.repository = d.repository AND p.state = 'pending' AND p.seq < d.seq)
       ORDER BY d.seq LIMIT @limit`,
    ),
    lease: db.prepare("UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? WHERE endpoint = ? AND seq = ?"),
    delivery: db.prepare<[string, number], DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN events e ON e.seq = d.seq WHERE d.endpoint = ? AND d.seq = ?`,
    ),
    attempt: db.prepare(
      `UPDATE webhook_deliveries SET state = @state, attempts = attempts + 1, next_at = @nextAt, lease_owner = NULL,
         lease_until = NULL, last_attempt_at = @at, last_status = @status, last_error = @error, delivered_at = @deliveredAt
       WHERE endpoint = @endpoint AND seq = @seq AND state = 'pending' AND lease_owner = @owner`,
    ),
    success: db.prepare(
      `INSERT INTO webhook_cursors (endpoint, last_success_at) VALUES (?, ?) ON CONFLICT (endpoint) DO UPDATE
       SET last_success_at = excluded.last_success_at
       WHERE webhook_cursors.last_success_at IS NULL OR webhook_cursors.last_success_at <= excluded.last_success_at`,
    ),
    failure: db.prepare(
      `INSERT INTO webhook_cursors (endpoint, last_failure_at, last_error) VALUES (?, ?, ?) ON CONFLICT (endpoint) DO UPDATE
       SET last_failure_at = excluded.last_failure_at, last_error = excluded.last_error
       WHERE webhook_cursors.last_failure_at IS NULL OR webhook_cursors.last_failure_at <= excluded.last_failure_at`,
    ),
    replay: db.prepare(
      `INSERT INTO webhook_deliveries (endpoint, seq, repository, state, attempts, next_at, replayed_at)
       SELECT @endpoint, seq, COALESCE(repository, ''), 'pending', 0, @now, @now FROM events WHERE seq = @seq
       ON CONFLICT (endpoint, seq) DO UPDATE SET state = 'pending', attempts = 0, next_at = excluded.next_at,
         lease_owner = NULL, lease_until = NULL, last_attempt_at = NULL, last_status = NULL, last_error = NULL,
         delivered_at = NULL, replayed_at = excluded.replayed_at`,
    ),
    deliveries: db.prepare<{ endpoint: string | null; state: string | null; after: number; limit: number }, DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN events e ON e.seq = d.seq
       WHERE (@endpoint IS NULL OR d.endpoint = @endpoint) AND (@state IS NULL OR d.state = @state)
         AND d.seq IN (SELECT DISTINCT p.seq FROM webhook_deliveries p
                       WHERE (@endpoint IS NULL OR p.endpoint = @endpoint) AND (@state IS NULL OR p.state = @state) AND p.seq > @after
                       ORDER BY p.seq LIMIT @limit)
       ORDER BY d.seq, d.endpoint`,
    ),
    counts: db.prepare<[], HealthRow>(
      `SELECT endpoint, SUM(state = 'pending') AS backlog, SUM(state = 'failed') AS failed, SUM(state = 'delivered') AS delivered
       FROM webhook_deliveries GROUP BY endpoint`,
    ),
    cursors: db.prepare<[], CursorRow>("SELECT endpoint, seq, last_success_at, last_failure_at, last_error FROM webhook_cursors"),
    pruneDeliveries: db.prepare(
      `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND seq IN (
         SELECT e.seq FROM events e WHERE e.time < ?
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.seq = e.seq AND p.state = 'pending'))`,
    ),
    pruneEvents: db.prepare(
      "DELETE FROM events WHERE time < ? AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.seq = events.seq)",
    ),
  };

  const record: RecordEvents = (events) => {
    for (const event of events ?? []) q.insert.run(...eventValues(event));
  };
  const append = db.transaction(record);

  const fanOut = db.transaction((endpoint: string, accept: (event: StoredEvent) => boolean, limit: number): number => {
    const cursor = q.cursor.get(endpoint)?.seq ?? null;
    if (cursor === null) {
      q.setCursor.run(endpoint, q.newest.get()!.seq);
      return 0;
    }
    const rows = q.list.all({ after: cursor, since: null, limit });
    const now = Date.now();
    for (const row of rows) {
      const event = toEvent(row);
      if (accept(event)) q.addDelivery.run(endpoint, event.seq, event.repository ?? "", now);
    }
    if (rows.length > 0) q.setCursor.run(endpoint, rows.at(-1)!.seq);
    return rows.length;
  });

  const claim = db.transaction((endpoint: string, owner: string, now: number, leaseUntil: number, limit: number): ClaimedDelivery[] =>
    q.claimable.all({ endpoint, now, limit }).map(({ seq }) => {
      q.lease.run(owner, leaseUntil, endpoint, seq);
      const row = q.delivery.get(endpoint, seq)!;
      return claimed(endpoint, row);
    }),
  );

  const recordAttempt = db.transaction((endpoint: string, seq: number, owner: string, attempt: Parameters<EventStore["recordAttempt"]>[3]) => {
    const v = attemptValues(attempt);
    const changed = q.attempt.run({ ...v, at: attempt.at, endpoint, seq, owner }).changes > 0;
    if (!changed) return false;
    if (attempt.delivered) q.success.run(endpoint, attempt.at);
    else q.failure.run(endpoint, attempt.at, attempt.error);
    return true;
  });

  const replay = db.transaction((endpoint: string, events: readonly StoredEvent[], now: number) =>
    events.reduce((n, e) => n + q.replay.run({ endpoint, now, seq: e.seq }).changes, 0),
  );

  const prune = db.transaction((before: number): number => {
    q.pruneDeliveries.run(before);
    return q.pruneEvents.run(before).changes;
  });

  const events: EventStore = {
    async appendEvents(list) {
      if (list.length > 0) append.immediate(list);
    },
    async listEvents(filter) {
      return q.list.all({ after: filter.afterSeq ?? 0, since: filter.since ?? null, limit: filter.limit }).map(toEvent);
    },
    async getEvent(id) {
      const row = q.get.get(id);
      return row && toEvent(row);
    },
    async fanOutEvents(endpoint, accept, limit) {
      return fanOut.immediate(endpoint, accept, limit);
    },
    async claimDeliveries(endpoint, owner, now, leaseUntil, limit) {
      return claim.immediate(endpoint, owner, now, leaseUntil, limit);
    },
    async recordAttempt(endpoint, seq, owner, attempt) {
      return recordAttempt.immediate(endpoint, seq, owner, attempt);
    },
    async replayDeliveries(endpoint, list, now) {
      return replay.immediate(endpoint, list, now);
    },
    async listDeliveries(filter) {
      return q.deliveries
        .all({ endpoint: filter.endpoint ?? null, state: filter.state ?? null, after: filter.afterSeq ?? 0, limit: filter.limit })
        .map(toDelivery);
    },
    async deliveryHealth() {
      // One read transaction, so the counts and the cursors are of the same moment.
      return db.transaction(() => toHealth(q.counts.all(), q.cursors.all()))();
    },
    async pruneEvents(before) {
      return prune.immediate(before);
    },
  };
  return { events, record };
}
