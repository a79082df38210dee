import type { WebhookEndpointConfig } from "../config/schema.js";
import { globMatch } from "../oci/glob.js";
import { EVENT_CATEGORY, type EventCategory, type EventType } from "../registry/events.js";
import type { StoredEvent } from "../storage/event-store.js";
import { formatSupports } from "./formats.js";

/** One configured endpoint (config `notifications.endpoints[]`), its secret read. */
export type WebhookEndpoint = WebhookEndpointConfig;

/** The category (`push`, `delete`, …) of an event type; undefined for a type this version does not know. */
function categoryOf(type: string): EventCategory | undefined {
  return Object.hasOwn(EVENT_CATEGORY, type) ? EVENT_CATEGORY[type as EventType] : undefined;
}

/**
 * Whether `endpoint` is to receive `event`, enabled or not: its category is among the endpoint's
 * `actions`, its repository matches one of `repositories` (absent: every event, registry-wide
 * ones included; present: only events of a matching repository), and the format has a form for it.
 */
export function wantsEvent(endpoint: WebhookEndpoint, event: StoredEvent): boolean {
  const category = categoryOf(event.type);
  if (!category || !endpoint.actions.includes(category)) return false;
  if (endpoint.repositories) {
    const repo = event.repository;
    if (repo === undefined || !endpoint.repositories.some((glob) => globMatch(glob, repo))) return false;
  }
  return formatSupports(endpoint.format, event.type);
}

/** What the dispatcher fans out to `endpoint`: nothing while it is disabled (its cursor still moves on). */
export function acceptsEvent(endpoint: WebhookEndpoint, event: StoredEvent): boolean {
  return endpoint.enabled && wantsEvent(endpoint, event);
}

/**
 * The categories enabled endpoints ask for and can be sent in their format: the event log's
 * `wanted` (createEventLog), so pull and auth events are recorded only when an endpoint will
 * deliver them.
 */
export function wantedCategories(endpoints: readonly WebhookEndpoint[]): Set<EventCategory> {
  const types = Object.keys(EVENT_CATEGORY) as EventType[];
  return new Set(
    endpoints
      .filter((e) => e.enabled)
      .flatMap((e) => e.actions.filter((c) => types.some((t) => EVENT_CATEGORY[t] === c && formatSupports(e.format, t)))),
  );
}
