import type { Digest } from "../oci/digest.js";

/**
 * The event outbox and the webhook deliveries made from it, kept in the metadata database so that
 * an event of a change commits in the same transaction as the change (the MetadataStore's
 * mutating methods take `events` for that), and so that every node sees every event.
 *
 * Events are append-only and ordered by `seq`, which the store assigns. Two transactions may
 * commit out of seq order (on PostgreSQL); fanOutEvents must still never pass over an event that
 * commits after it ran (the PostgreSQL driver reads only up to a horizon below which every writer
 * has committed).
 *
 * A delivery is one event for one endpoint: `pending` (with the time of its next attempt and,
 * while a node works on it, a lease), then `delivered` or `failed` (parked after the retry window;
 * replay makes it pending again). Deliveries of one endpoint and one repository are handed out in
 * seq order, one at a time: a later one waits while an earlier one is pending.
 */
export interface EventStore {
  /**
   * Appends events outside any other change (pull batches, auth decisions, run summaries), in one
   * transaction. An event whose `id` the outbox holds already is skipped (so a retried append is harmless).
   */
  appendEvents(events: readonly EventRecord[]): Promise<void>;
  /** Events by seq ascending: after `afterSeq` (exclusive), at or after `since` (epoch ms), at most `limit`. */
  listEvents(filter: EventFilter): Promise<StoredEvent[]>;
  /** The event with this id, if the outbox still holds it. */
  getEvent(id: string): Promise<StoredEvent | undefined>;

  /**
   * Moves `endpoint`'s cursor over at most `limit` events and creates a pending delivery (due now)
   * of each one `accept` takes, all in one transaction that holds the cursor, so two nodes never
   * fan out the same events. A new endpoint's cursor starts after the newest event: history
   * reaches it only through `replayDeliveries`. Resolves with the number of events the cursor passed.
   */
  fanOutEvents(endpoint: string, accept: (event: StoredEvent) => boolean, limit: number): Promise<number>;
  /**
   * Leases up to `limit` deliveries of `endpoint` to `owner` until `leaseUntil`: pending ones whose
   * next attempt is due by `now`, whose lease (if any) ran out, and with no pending delivery of a
   * smaller seq for the same repository (registry-wide events form one more such group).
   * Returned with their events, by seq. A lease that ran out is taken over by whoever claims next.
   */
  claimDeliveries(endpoint: string, owner: string, now: number, leaseUntil: number, limit: number): Promise<ClaimedDelivery[]>;
  /**
   * Records one attempt of a delivery `owner` holds the lease of: delivered, retried at
   * `retryAt`, or parked as failed when `retryAt` is absent; the lease is released and the
   * endpoint's health (last success, last failure and error) updated. Resolves false, changing
   * nothing, when the lease was lost: another owner claimed it (its lease had run out) or a replay
   * reset it. A lease that ran out but that nobody took over is still held.
   */
  recordAttempt(endpoint: string, seq: number, owner: string, attempt: DeliveryAttempt): Promise<boolean>;
  /**
   * Makes the deliveries of `endpoint` for these events pending again with no attempts, due now,
   * creating those that do not exist (replay); a lease in progress is dropped. Events the outbox no
   * longer holds are skipped. Resolves with how many were made pending.
   */
  replayDeliveries(endpoint: string, events: readonly StoredEvent[], now: number): Promise<number>;
  /**
   * Deliveries with their events, by seq then endpoint, filtered as asked. `limit` counts events:
   * every matching delivery of an event is on the same page, so the last seq of a page, as
   * `afterSeq`, continues exactly where it ended.
   */
  listDeliveries(filter: DeliveryFilter): Promise<DeliveryView[]>;
  /** How each endpoint with deliveries or a cursor is doing, by endpoint name (byte-wise). */
  deliveryHealth(): Promise<EndpointHealth[]>;
  /**
   * Deletes events older than `before` (epoch ms) that no pending delivery needs, with their
   * delivered and failed deliveries. Resolves with the number of events deleted. An event no
   * cursor has passed yet is deleted all the same: `before` is meant to lie days behind fan-out.
   */
  pruneEvents(before: number): Promise<number>;
}

/**
 * One domain event as stored and delivered. `id` is a random UUID chosen when the event is
 * built, stable across retries and replays, so receivers deduplicate by it.
 */
export interface EventRecord {
  id: string;
  /** `manifest.pushed`, `tag.deleted`, …: see registry/events.ts for the list. */
  type: string;
  /** Epoch ms. */
  time: number;
  /** The repository changed or read; absent for registry-wide events (a GC run, a login). */
  repository?: string;
  target?: EventTarget;
  /**
   * Who caused it: a user's name, `token:<owner>/<name>` (a robot token), `cli`, `schedule`,
   * `retention:<rule>`, or `berth` (creating the first administrator); absent for anonymous callers.
   */
  actor?: string;
  /** The HTTP request that caused it, when one did. */
  request?: EventRequest;
  /** `ok` for changes; `denied` or `refused` for auth decisions and quota refusals. */
  result?: "ok" | "denied" | "refused" | "failed";
  /** Type-specific facts (a run's counts, a tag's previous digest); never credentials. */
  detail?: Record<string, unknown>;
}

export interface EventTarget {
  digest?: Digest;
  mediaType?: string;
  size?: number;
  /** The one tag concerned (a tag move or delete, a pull by tag). */
  tag?: string;
  /** Every tag a manifest push pointed at it. */
  tags?: readonly string[];
}

export interface EventRequest {
  id: string;
  addr: string;
  host?: string;
  method: string;
  useragent?: string;
}

export interface StoredEvent extends EventRecord {
  seq: number;
}

export interface EventFilter {
  afterSeq?: number;
  since?: number;
  limit: number;
}

export type DeliveryState = "pending" | "delivered" | "failed";

export type DeliveryAttempt =
  | { at: number; delivered: true; status: number }
  | { at: number; delivered: false; status?: number; error: string; retryAt?: number };

export interface ClaimedDelivery {
  endpoint: string;
  event: StoredEvent;
  /** Attempts made before this one. */
  attempts: number;
  /** When it was last replayed: its retry window starts there rather than at the event's time. */
  replayedAt?: number;
}

export interface DeliveryFilter {
  endpoint?: string;
  state?: DeliveryState;
  /** Only deliveries of events after this seq (exclusive). */
  afterSeq?: number;
  /** At most this many events (each with all of its matching deliveries). */
  limit: number;
}

export interface DeliveryView {
  endpoint: string;
  event: StoredEvent;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt?: number;
  lastAttemptAt?: number;
  lastStatus?: number;
  /** The error of the last attempt, when it failed. */
  lastError?: string;
  deliveredAt?: number;
}

export interface EndpointHealth {
  endpoint: string;
  /** Pending deliveries, leased or not. */
  backlog: number;
  /** Parked deliveries (retries given up). */
  failed: number;
  delivered: number;
  lastSuccessAt?: number;
  lastFailureAt?: number;
  lastError?: string;
  /** The seq the endpoint's cursor has passed; absent before its first fan-out. */
  cursor?: number;
}
