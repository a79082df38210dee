import type { ClaimedDelivery, DeliveryAttempt, DeliveryState, DeliveryView, EndpointHealth, EventRecord, StoredEvent } from "../event-store.js";

/** Event and delivery rows as both SQL drivers select them (the schemas share column names), and their mapping. */

export interface EventRow {
  seq: number;
  id: string;
  type: string;
  time: number;
  repository: string | null;
  data: string;
}

export interface DeliveryRow extends EventRow {
  endpoint: string;
  state: DeliveryState;
  attempts: number;
  next_at: number | null;
  last_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: number | null;
  replayed_at: number | null;
}

export const EVENT_COLUMNS = "e.seq, e.id, e.type, e.time, e.repository, e.data";
export const DELIVERY_COLUMNS = `d.endpoint, d.state, d.attempts, d.next_at, d.last_attempt_at, d.last_status,
  d.last_error, d.delivered_at, d.replayed_at, ${EVENT_COLUMNS}`;

/** A leased delivery as claimDeliveries hands it out. */
export function claimed(endpoint: string, row: DeliveryRow): ClaimedDelivery {
  return { endpoint, event: toEvent(row), attempts: row.attempts, ...(row.replayed_at !== null ? { replayedAt: Number(row.replayed_at) } : {}) };
}

/** The columns of an event, in insert order: id, type, time, repository (null for none), data (the other fields as JSON). */
export function eventValues(event: EventRecord): [string, string, number, string | null, string] {
  const { id, type, time, repository, ...rest } = event;
  // A StoredEvent passed back in must not carry its old seq into the new row's data.
  delete (rest as { seq?: number }).seq;
  return [id, type, time, repository ?? null, JSON.stringify(rest)];
}

export const toEvent = (row: EventRow): StoredEvent => ({
  ...(JSON.parse(row.data) as Omit<EventRecord, "id" | "type" | "time" | "repository">),
  seq: row.seq,
  id: row.id,
  type: row.type,
  time: row.time,
  ...(row.repository !== null ? { repository: row.repository } : {}),
});

export const toDelivery = (row: DeliveryRow): DeliveryView => ({
  endpoint: row.endpoint,
  event: toEvent(row),
  state: row.state,
  attempts: row.attempts,
  ...(row.state === "pending" && row.next_at !== null ? { nextAttemptAt: row.next_at } : {}),
  ...(row.last_attempt_at !== null ? { lastAttemptAt: row.last_attempt_at } : {}),
  ...(row.last_status !== null ? { lastStatus: row.last_status } : {}),
  ...(row.last_error !== null ? { lastError: row.last_error } : {}),
  ...(row.delivered_at !== null ? { deliveredAt: row.delivered_at } : {}),
});

/** The delivery columns a recorded attempt sets, besides attempts + 1 and the lease cleared. */
export interface AttemptValues {
  state: DeliveryState;
  nextAt: number | null;
  status: number | null;
  error: string | null;
  deliveredAt: number | null;
}

export function attemptValues(attempt: DeliveryAttempt): AttemptValues {
  if (attempt.delivered) return { state: "delivered", nextAt: null, status: attempt.status, error: null, deliveredAt: attempt.at };
  return {
    state: attempt.retryAt === undefined ? "failed" : "pending",
    nextAt: attempt.retryAt ?? null,
    status: attempt.status ?? null,
    error: attempt.error,
    deliveredAt: null,
  };
}

export interface HealthRow {
  endpoint: string;
  backlog: number;
  failed: number;
  delivered: number;
}

export interface CursorRow {
  endpoint: string;
  seq: number | null;
  last_success_at: number | null;
  last_failure_at: number | null;
  last_error: string | null;
}

/** Merges per-endpoint delivery counts with the cursor rows, by endpoint name (byte-wise). */
export function toHealth(counts: readonly HealthRow[], cursors: readonly CursorRow[]): EndpointHealth[] {
  const byName = new Map<string, EndpointHealth>();
  const entry = (endpoint: string) => {
    let h = byName.get(endpoint);
    if (!h) byName.set(endpoint, (h = { endpoint, backlog: 0, failed: 0, delivered: 0 }));
    return h;
  };
  for (const c of counts) Object.assign(entry(c.endpoint), { backlog: c.backlog, failed: c.failed, delivered: c.delivered });
  for (const c of cursors) {
    Object.assign(entry(c.endpoint), {
      ...(c.seq !== null ? { cursor: c.seq } : {}),
      ...(c.last_success_at !== null ? { lastSuccessAt: c.last_success_at } : {}),
      ...(c.last_failure_at !== null ? { lastFailureAt: c.last_failure_at } : {}),
      ...(c.last_error !== null ? { lastError: c.last_error } : {}),
    });
  }
  return [...byName.values()].sort((a, b) => Buffer.compare(Buffer.from(a.endpoint), Buffer.from(b.endpoint)));
}

/**
 * The events of a change that unlinked `unlinked`: all of them, but those aimed at a digest
 * (`target.digest`) that was not unlinked.
 */
export function eventsForUnlinked(events: readonly EventRecord[], unlinked: readonly string[]): EventRecord[] {
  const done = new Set(unlinked);
  return events.filter((e) => e.target?.digest === undefined || done.has(e.target.digest));
}
