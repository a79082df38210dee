import { createHash } from "node:crypto";
import { lazyRequire } from "../lazy-require.js";
import type { StoredEvent } from "../storage/event-store.js";

const cloudevents = lazyRequire<typeof import("cloudevents")>("cloudevents");

/**
 * What a webhook delivery carries, per format. Pure: an event in, a request body out. One stored
 * event is one HTTP request, so each delivery has one id (the `webhook-id` header) and the
 * per-repository order of deliveries is the order of events.
 *
 * - `distribution`: the envelope registry:2 sends, `{"events": [...]}` with
 *   `application/vnd.docker.distribution.events.v1+json`, so receivers written for it work as is.
 *   It has forms for push, pull, mount and delete only; other events are not sent in it (see
 *   `formatSupports`). A manifest pushed with several tags is one envelope with one push per tag.
 * - `cloudevents`: one CloudEvents 1.0 event in structured mode (`application/cloudevents+json`),
 *   type `io.berth.<event type>`, the Berth payload (`eventPayload`) as `data`.
 */
export type WebhookFormat = "distribution" | "cloudevents";

export interface RenderContext {
  /**
   * The registry as clients pull from it (`https://registry.example`, config
   * `notifications.publicUrl`); when absent, `target.url` is built from the Host the event's
   * request came to, with `scheme`, and is left out for events no request caused.
   */
  publicUrl?: string;
  scheme: "http" | "https";
  /** distribution's `source`: this node's `host:port` and its instance id. */
  source: { addr: string; instanceID: string };
}

export interface RenderedDelivery {
  contentType: string;
  body: string;
}

export const DISTRIBUTION_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json";
/** What registry:2 gives blobs in its events, whatever the layer's own media type. */
const BLOB_MEDIA_TYPE = "application/octet-stream";

const DISTRIBUTION_ACTION: Readonly<Record<string, "push" | "pull" | "mount" | "delete">> = {
  "blob.pushed": "push",
  "manifest.pushed": "push",
  "manifest.pulled": "pull",
  "blob.mounted": "mount",
  "blob.deleted": "delete",
  "manifest.deleted": "delete",
  "tag.deleted": "delete",
  "repository.deleted": "delete",
};

/** Whether `format` has a form for events of `type`; events it has none for are not delivered to the endpoint at all. */
export function formatSupports(format: WebhookFormat, type: string): boolean {
  return format === "cloudevents" || DISTRIBUTION_ACTION[type] !== undefined;
}

/** The request body of one delivery of `event`; undefined when the format has no form for it. */
export function renderEvent(format: WebhookFormat, event: StoredEvent, ctx: RenderContext): RenderedDelivery | undefined {
  if (format === "cloudevents") return renderCloudEvent(event, ctx);
  const events = distributionEvents(event, ctx);
  if (events.length === 0) return undefined;
  return { contentType: DISTRIBUTION_MEDIA_TYPE, body: JSON.stringify({ events }) };
}

/** The registry's base URL for `event`: publicUrl, else the Host its request came to; undefined when neither is known. */
function baseUrl(event: StoredEvent, ctx: RenderContext): string | undefined {
  if (ctx.publicUrl) return ctx.publicUrl.replace(/\/+$/, "");
  return event.request?.host ? `${ctx.scheme}://${event.request.host}` : undefined;
}

/** The pull URL of what `event` is about, in distribution's form: `<base>/v2/<repo>/manifests/<digest>` (or `blobs`). */
function pullUrl(event: StoredEvent, ctx: RenderContext): string | undefined {
  const base = baseUrl(event, ctx);
  const digest = event.target?.digest;
  if (!base || !event.repository || !digest) return undefined;
  const kind = event.type.startsWith("blob.") ? "blobs" : "manifests";
  return `${base}/v2/${event.repository}/${kind}/${digest}`;
}

/** The source repository of a mount, as the registry records it in `detail.from`. */
function fromRepository(event: StoredEvent): string | undefined {
  const from = event.detail?.from;
  return typeof from === "string" && from !== "" ? from : undefined;
}

/** A UUID-shaped id derived from `id` and `salt`, so each event of a multi-tag envelope keeps one id across retries. */
function derivedId(id: string, salt: string): string {
  const h = createHash("sha256").update(`${id}\n${salt}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The registry:2 events of one stored event: one per tag for a manifest push, else one or none. */
function distributionEvents(event: StoredEvent, ctx: RenderContext): Record<string, unknown>[] {
  const action = DISTRIBUTION_ACTION[event.type];
  if (!action) return [];
  const t = event.target ?? {};
  const blob = event.type.startsWith("blob.");
  const target: Record<string, unknown> = {};
  // registry:2's key order, for receivers that compare bodies as text.
  if (action !== "delete") {
    const mediaType = blob ? BLOB_MEDIA_TYPE : t.mediaType;
    if (mediaType !== undefined) target.mediaType = mediaType;
    if (t.size !== undefined) target.size = t.size;
    if (t.digest !== undefined) target.digest = t.digest;
    if (t.size !== undefined) target.length = t.size;
  } else if (t.digest !== undefined && event.type !== "tag.deleted") {
    target.digest = t.digest;
  }
  if (event.repository !== undefined) target.repository = event.repository;
  const from = action === "mount" ? fromRepository(event) : undefined;
  if (from) target.fromRepository = from;
  const url = action === "delete" ? undefined : pullUrl(event, ctx);
  if (url) target.url = url;
  const r = event.request;
  const base = {
    timestamp: new Date(event.time).toISOString(),
    action,
    request: r ? { id: r.id, addr: r.addr, ...(r.host ? { host: r.host } : {}), method: r.method, ...(r.useragent ? { useragent: r.useragent } : {}) } : {},
    // registry:2 leaves the actor empty for anonymous requests.
    actor: event.actor && event.actor !== "anonymous" ? { name: event.actor } : {},
    source: { addr: ctx.source.addr, instanceID: ctx.source.instanceID },
  };
  const tags = event.type === "manifest.pushed" && t.tags && t.tags.length > 0 ? t.tags : t.tag !== undefined ? [t.tag] : [undefined];
  return tags.map((tag, i) => ({
    id: i === 0 ? event.id : derivedId(event.id, tag ?? ""),
    ...base,
    target: tag === undefined ? target : { ...target, tag },
  }));
}

/**
 * Berth's own payload of an event (CloudEvents `data`): what a deploy
 * needs (repository, tag, digest, media type, size, who) and the pull URL; never credentials.
 */
function eventPayload(event: StoredEvent, ctx: RenderContext): Record<string, unknown> {
  const url = pullUrl(event, ctx);
  return {
    id: event.id,
    type: event.type,
    time: new Date(event.time).toISOString(),
    ...(event.repository !== undefined ? { repository: event.repository } : {}),
    ...(event.target ? { target: { ...event.target, ...(url ? { url } : {}) } } : {}),
    ...(event.actor !== undefined ? { actor: event.actor } : {}),
    ...(event.request ? { request: event.request } : {}),
    ...(event.result !== undefined ? { result: event.result } : {}),
    ...(event.detail ? { detail: event.detail } : {}),
  };
}

/** `team/app:v1` when one tag concerns the event, `team/app@sha256:…` when a digest does, else the repository. */
export function eventSubject(event: StoredEvent): string | undefined {
  if (!event.repository) return undefined;
  const t = event.target;
  const tag = t?.tag ?? (t?.tags?.length === 1 ? t.tags[0] : undefined);
  if (tag !== undefined) return `${event.repository}:${tag}`;
  if (t?.digest) return `${event.repository}@${t.digest}`;
  return event.repository;
}

/**
 * CloudEvents `source`: the same on every node (a receiver deduplicates on source and id, and a
 * retry may come from another node), so the public URL when known, else `/berth`.
 */
function cloudEventSource(ctx: RenderContext): string {
  return ctx.publicUrl ? ctx.publicUrl.replace(/\/+$/, "") : "/berth";
}

function renderCloudEvent(event: StoredEvent, ctx: RenderContext): RenderedDelivery {
  const subject = eventSubject(event);
  const ce = new (cloudevents().CloudEvent)({
    specversion: "1.0",
    id: event.id,
    type: `io.berth.${event.type}`,
    source: cloudEventSource(ctx),
    time: new Date(event.time).toISOString(),
    ...(subject !== undefined ? { subject } : {}),
    datacontenttype: "application/json",
    data: eventPayload(event, ctx),
  });
  const message = cloudevents().HTTP.structured(ce);
  const contentType = message.headers["content-type"];
  return { contentType: typeof contentType === "string" ? contentType : "application/cloudevents+json; charset=utf-8", body: String(message.body) };
}
