import { maskedUrl } from "../config/masked-url.js";
import { RegistryError } from "../oci/errors.js";
import type { DeliveryView, EndpointHealth, EventStore, StoredEvent } from "../storage/event-store.js";
import { wantsEvent, type WebhookEndpoint } from "./endpoints.js";
import { eventSubject, type WebhookFormat } from "./formats.js";

/**
 * The operations on webhook deliveries that `berth events …` and `/api/v1/webhooks|events` share:
 * endpoint health, listing deliveries, and replay. They work on the store alone, so they run in
 * any process (a CLI beside running servers); the servers' dispatchers pick up what replay makes
 * pending at their next poll.
 */
export interface WebhookOps {
  /** Every configured endpoint, and any other one the store still holds deliveries of, by name. */
  health(): Promise<WebhookHealth[]>;
  /** Deliveries by seq, then endpoint. An endpoint that is neither configured nor holds deliveries in the store is refused. */
  list(filter: ListFilter): Promise<DeliveryView[]>;
  /**
   * Makes deliveries of `endpoint` pending again, as new: of the events at or after `since`, or of
   * the event `from` and every later one, that the endpoint takes (its actions, repositories and
   * format; enabled or not). Exactly one of `since` and `from` is required. Refuses an endpoint
   * that is not configured and an event id the outbox does not hold.
   */
  replay(request: ReplayRequest): Promise<ReplayReport>;
}

export interface ListFilter {
  endpoint?: string;
  /** Only parked deliveries. */
  failed?: boolean;
  /** Only deliveries of events after this seq (paging: the last seq of the previous page). */
  afterSeq?: number;
  /** At most this many events, each with all of its deliveries (so a page never ends partway through an event). */
  limit: number;
}

export interface ReplayRequest {
  endpoint: string;
  /** Epoch ms. */
  since?: number;
  /** An event id. */
  from?: string;
}

export interface ReplayReport {
  endpoint: string;
  /** Events looked at (from the starting point on). */
  events: number;
  /** Deliveries made pending. */
  replayed: number;
}

export interface WebhookHealth extends EndpointHealth {
  /** False for an endpoint no longer configured whose deliveries the store still holds. */
  configured: boolean;
  enabled?: boolean;
  format?: WebhookFormat;
  /** The endpoint's URL with its path and query masked (either may hold a token): config/masked-url.ts. */
  url?: string;
}

const PAGE = 500;
export const MAX_LIST_LIMIT = 10_000;

export function createWebhookOps({ store, endpoints, clock = Date.now }: { store: EventStore; endpoints: readonly WebhookEndpoint[]; clock?: () => number }): WebhookOps {
  const byName = new Map(endpoints.map((e) => [e.name, e]));
  const unknown = (name: string) =>
    new RegistryError(
      "NOT_FOUND",
      `no webhook endpoint is named ${name}; configured: ${endpoints.map((e) => e.name).join(", ") || "none"}`,
      { endpoint: name },
    );

  const health = async (): Promise<WebhookHealth[]> => {
    const stored = new Map((await store.deliveryHealth()).map((h) => [h.endpoint, h]));
    const rows: WebhookHealth[] = endpoints.map((e) => ({
      backlog: 0,
      failed: 0,
      delivered: 0,
      ...stored.get(e.name),
      endpoint: e.name,
      configured: true,
      enabled: e.enabled,
      format: e.format,
      url: maskedUrl(e.url),
    }));
    for (const h of stored.values()) if (!byName.has(h.endpoint)) rows.push({ ...h, configured: false });
    return rows;
  };

  return {
    health,
    async list({ endpoint, failed, afterSeq, limit }) {
      const page = await store.listDeliveries({
        limit: Math.min(Math.max(1, limit), MAX_LIST_LIMIT),
        ...(endpoint !== undefined ? { endpoint } : {}),
        ...(failed ? { state: "failed" as const } : {}),
        ...(afterSeq !== undefined ? { afterSeq } : {}),
      });
      // A name neither configured nor holding a delivery is a mistake, not an empty list.
      if (endpoint !== undefined && page.length === 0 && !byName.has(endpoint) && (await store.listDeliveries({ endpoint, limit: 1 })).length === 0) {
        throw unknown(endpoint);
      }
      return page;
    },
    async replay({ endpoint: name, since, from }) {
      const endpoint = byName.get(name);
      if (!endpoint) throw unknown(name);
      if ((since === undefined) === (from === undefined)) {
        throw new RegistryError("INVALID", "replay needs exactly one of since (a time) and from (an event id)");
      }
      if (since !== undefined && !Number.isFinite(since)) throw new RegistryError("INVALID", "since is not a time");
      let afterSeq: number | undefined;
      if (from !== undefined) {
        const first = await store.getEvent(from);
        if (!first) throw new RegistryError("NOT_FOUND", `the outbox holds no event ${from} (events are kept for notifications.eventRetention)`, { from });
        afterSeq = first.seq - 1;
      }
      const report: ReplayReport = { endpoint: name, events: 0, replayed: 0 };
      for (;;) {
        const page: StoredEvent[] = await store.listEvents({ limit: PAGE, ...(afterSeq !== undefined ? { afterSeq } : {}), ...(since !== undefined ? { since } : {}) });
        if (page.length === 0) break;
        report.events += page.length;
        const taken = page.filter((e) => wantsEvent(endpoint, e));
        if (taken.length > 0) report.replayed += await store.replayDeliveries(name, taken, clock());
        afterSeq = page[page.length - 1]!.seq;
        if (page.length < PAGE) break;
      }
      return report;
    },
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** A delivery as the CLI prints it and the API answers: one flat object, times in ISO 8601. */
export function describeDelivery(d: DeliveryView): Record<string, unknown> {
  const subject = eventSubject(d.event);
  return {
    endpoint: d.endpoint,
    seq: d.event.seq,
    id: d.event.id,
    type: d.event.type,
    time: iso(d.event.time),
    ...(subject !== undefined ? { subject } : {}),
    ...(d.event.actor !== undefined ? { actor: d.event.actor } : {}),
    state: d.state,
    attempts: d.attempts,
    ...(d.lastStatus !== undefined ? { lastStatus: d.lastStatus } : {}),
    ...(d.lastError !== undefined ? { lastError: d.lastError } : {}),
    ...(d.lastAttemptAt !== undefined ? { lastAttemptAt: iso(d.lastAttemptAt) } : {}),
    ...(d.nextAttemptAt !== undefined && d.state === "pending" ? { nextAttemptAt: iso(d.nextAttemptAt) } : {}),
    ...(d.deliveredAt !== undefined ? { deliveredAt: iso(d.deliveredAt) } : {}),
  };
}

/** Endpoint health as the CLI prints it and the API answers, times in ISO 8601. */
export function describeHealth(h: WebhookHealth): Record<string, unknown> {
  const { lastSuccessAt, lastFailureAt, ...rest } = h;
  return {
    ...rest,
    ...(lastSuccessAt !== undefined ? { lastSuccessAt: iso(lastSuccessAt) } : {}),
    ...(lastFailureAt !== undefined ? { lastFailureAt: iso(lastFailureAt) } : {}),
  };
}
