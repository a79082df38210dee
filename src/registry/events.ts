import { randomUUID } from "node:crypto";
import type { EventRecord, EventRequest, EventStore } from "../storage/event-store.js";

/**
 * The registry's domain events: everything that changes state, plus pulls and the access
 * decisions the audit log records. The registry builds them; the metadata store records the
 * events of a change in the change's own transaction (the outbox); subscribers (the audit log,
 * metrics, the webhook dispatcher's wake-up) hear them in process once committed.
 */
export const EVENT_CATEGORY = {
  "blob.pushed": "push",
  "blob.mounted": "mount",
  "blob.deleted": "delete",
  "manifest.pushed": "push",
  "manifest.pulled": "pull",
  "manifest.deleted": "delete",
  "tag.moved": "tag",
  "tag.deleted": "delete",
  "repository.deleted": "delete",
  "namespace.deleted": "delete",
  "gc.completed": "gc",
  "retention.completed": "retention",
  "quota.warning": "quota",
  "quota.refused": "quota",
  "auth.denied": "auth",
  "auth.login": "auth",
  "auth.token_issued": "auth",
  "access.changed": "access",
  "secret.found": "scan",
} as const;

export type EventType = keyof typeof EVENT_CATEGORY;
/** What an endpoint's `actions` filter names: `push`, `pull`, `delete`, `mount`, `tag`, `gc`, … */
export type EventCategory = (typeof EVENT_CATEGORY)[EventType];

export const EVENT_CATEGORIES: readonly EventCategory[] = [...new Set(Object.values(EVENT_CATEGORY))];

/**
 * Categories recorded in the outbox only when an endpoint asks for them: they come with reads and
 * with refused requests (a client retrying an over-quota push refuses again and again), so
 * recording them unasked would cost every pull and let any client fill the table.
 */
const ON_DEMAND_CATEGORIES: ReadonlySet<EventCategory> = new Set(["pull", "auth", "quota"]);

export interface DomainEvent extends EventRecord {
  type: EventType;
}

/**
 * Who and what caused a change: built by the HTTP app per request (the caller, read once the guard
 * knows it, and the request), `{ actor: "cli" }` by the commands, `{ actor: "schedule" }` by
 * periodic jobs, and passed explicitly to the registry calls that record events. (Explicit rather
 * than an AsyncLocalStorage: on Node 20 that costs every promise of every request, pulls included,
 * measurably: bench/results/metrics-ab.md.)
 */
export interface Origin {
  readonly actor?: string | undefined;
  /** The request, described only when an event needs it (most requests produce none). */
  readonly request?: () => EventRequest;
}

/**
 * Hears events once their change committed, in order per caller: those the outbox keeps and those
 * it does not (on-demand categories nobody asked for, runs that changed nothing), and also when
 * appending them failed. A listener's failure is logged, never the caller's.
 */
export type EventListener = (events: readonly DomainEvent[]) => void | Promise<void>;

/**
 * The one event path. `event()` builds an event stamped with its origin; a change passes
 * `forStore(events)` to the metadata store call that commits it and then `published(events)`;
 * anything else that happened (a pull, a refusal, a run summary) goes through `emit(events)`,
 * which appends to the outbox and publishes.
 */
export interface EventLog {
  event(type: EventType, fields?: Omit<EventRecord, "id" | "type" | "time">, origin?: Origin): DomainEvent;
  /** The events of a change the outbox keeps (on-demand categories only when wanted). */
  forStore(events: readonly DomainEvent[]): DomainEvent[];
  /** Tells subscribers about events already committed; resolves once asynchronous ones are done. */
  published(events: readonly DomainEvent[]): Promise<void>;
  /** Records events outside a change, then publishes them. A failed append is logged, not thrown. */
  emit(events: readonly DomainEvent[]): Promise<void>;
  /** Whether any endpoint wants a category (pull events are not even built otherwise). */
  wants(category: EventCategory): boolean;
  subscribe(listener: EventListener): () => void;
}

export interface EventLogOptions {
  /** The outbox; without one (commands that open access control alone) events reach subscribers only. */
  store?: EventStore;
  /** Categories some endpoint asks for; on-demand categories outside it are not stored. */
  wanted?: ReadonlySet<EventCategory>;
  /** Where listener and append failures go. */
  onError?: (what: string, err: unknown) => void;
  clock?: () => number;
}

export function createEventLog({ store, wanted = new Set(), onError = () => {}, clock = Date.now }: EventLogOptions = {}): EventLog {
  const listeners = new Set<EventListener>();
  const wants = (category: EventCategory) => !ON_DEMAND_CATEGORIES.has(category) || wanted.has(category);
  const keep = (e: DomainEvent) => wants(EVENT_CATEGORY[e.type]);
  const published = async (events: readonly DomainEvent[]) => {
    if (events.length === 0) return;
    for (const listener of listeners) {
      try {
        await listener(events);
      } catch (err) {
        onError("event subscriber failed", err);
      }
    }
  };
  return {
    event(type, fields = {}, origin = {}) {
      // Read through the object: an origin may be a class instance whose parts are getters and methods.
      const actor = origin.actor;
      return {
        ...(actor !== undefined ? { actor } : {}),
        ...(origin.request ? { request: origin.request() } : {}),
        ...fields,
        id: randomUUID(),
        type,
        time: clock(),
      };
    },
    forStore: (events) => events.filter(keep),
    published,
    async emit(events) {
      const stored = events.filter(keep);
      try {
        if (stored.length > 0) await store?.appendEvents(stored);
      } catch (err) {
        onError("recording events failed", err);
      }
      await published(events);
    },
    wants,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
