import { parsePositiveInteger } from "../../config/units.js";
import { describeDelivery, describeHealth, MAX_LIST_LIMIT, type WebhookOps } from "../../notify/ops.js";
import { RegistryError } from "../../oci/errors.js";
import type { RequestContext } from "../context.js";
import { readJsonObject, reply } from "../respond.js";
import { authorizeMaintenance, queryFlag } from "./maintenance-access.js";

/**
 * Webhook deliveries over HTTP (notify/ops.ts, shared with `berth events`), JSON out:
 *
 *   GET  /api/v1/webhooks                                   → [{endpoint, configured, enabled, format, url, backlog, failed, delivered, lastSuccessAt, lastFailureAt, lastError, cursor}]
 *   GET  /api/v1/events[?endpoint=][&failed=true][&after=SEQ][&limit=N]  → [{endpoint, seq, id, type, time, subject, actor, state, attempts, lastStatus, lastError, …}]
 *   POST /api/v1/events/replay {endpoint, since: ISO time} or {endpoint, from: event id}  → {endpoint, events, replayed}
 *
 * With access control on, administrators only; with it off, whoever may pull may read and
 * whoever may delete may replay (the rules of the other maintenance endpoints). Errors: 400
 * INVALID (replay without exactly one of since and from, a bad time, number or flag), 404 NOT_FOUND (an
 * endpoint not configured, an event the outbox no longer holds).
 */
export const WEBHOOK_PATHS: ReadonlySet<string> = new Set(["/api/v1/webhooks", "/api/v1/events", "/api/v1/events/replay"]);

function positive(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  const n = parsePositiveInteger(v);
  if (n === undefined) throw new RegistryError("INVALID", `${name} must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`, { [name]: v });
  return n;
}

async function replayRequest(ctx: RequestContext): Promise<{ endpoint: string; since?: number; from?: string }> {
  const { endpoint, since, from, ...rest } = await readJsonObject(ctx.req, "{endpoint, since} or {endpoint, from}");
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new RegistryError("INVALID", `unknown field ${unknown.join(", ")}: the body takes endpoint and since or from`);
  if (typeof endpoint !== "string" || endpoint === "") throw new RegistryError("INVALID", "endpoint (a configured endpoint's name) is required");
  if (since !== undefined && (typeof since !== "string" || Number.isNaN(Date.parse(since)))) {
    throw new RegistryError("INVALID", "since must be an ISO time such as 2026-11-01T00:00:00Z", { since });
  }
  if (from !== undefined && (typeof from !== "string" || from === "")) throw new RegistryError("INVALID", "from must be an event id", { from });
  return { endpoint, ...(since !== undefined ? { since: Date.parse(since as string) } : {}), ...(from !== undefined ? { from: from as string } : {}) };
}

export async function handleWebhooksApi(ctx: RequestContext, ops: WebhookOps): Promise<void> {
  const { res, url } = ctx;
  const path = url.pathname;
  if (path === "/api/v1/events/replay") {
    await authorizeMaintenance(ctx, { methods: ["POST"], action: "delete", what: "webhook replays" });
    const report = await ops.replay(await replayRequest(ctx));
    ctx.logger.info("webhook replay", { ...report });
    return reply(res, 200, {}, report);
  }
  await authorizeMaintenance(ctx, { methods: ["GET", "HEAD"], action: "pull", what: "webhook deliveries" });
  if (path === "/api/v1/webhooks") return reply(res, 200, {}, (await ops.health()).map(describeHealth));
  const endpoint = url.searchParams.get("endpoint");
  const after = positive(url, "after");
  const deliveries = await ops.list({
    limit: Math.min(positive(url, "limit") ?? 100, MAX_LIST_LIMIT),
    ...(endpoint !== null ? { endpoint } : {}),
    ...(queryFlag(url, "failed") ? { failed: true } : {}),
    ...(after !== undefined ? { afterSeq: after } : {}),
  });
  reply(res, 200, {}, deliveries.map(describeDelivery));
}
