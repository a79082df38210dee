import { describeIdentity } from "../../auth/authorizer.js";
import { retentionSummary } from "../../registry/retention.js";
import type { AuditEvent } from "../../storage/auth-store.js";
import type { RequestContext } from "../context.js";
import { reply } from "../respond.js";
import { authorizeMaintenance, queryFlag } from "./maintenance-access.js";

/**
 *   POST /api/v1/retention[?dryRun=true][&wait=true]   → the run's report (registry/retention.ts)
 *
 * Applies the configured retention rules now. With access control on, administrators only, and
 * every deletion goes to the audit log as the system actor `retention:<rule>` with the
 * administrator as its source; with access control off, whoever may delete. A run another node
 * or process holds the lock for answers 409 with the report's `skipped` reason, unless `wait=true`.
 */
export async function handleRetentionApi(ctx: RequestContext, appendAudit?: (event: AuditEvent) => Promise<void>): Promise<void> {
  const { req, res, url } = ctx;
  await authorizeMaintenance(ctx, { methods: ["POST"], action: "delete", what: "retention runs" });
  const flag = (name: string) => queryFlag(url, name) ?? false;
  const dryRun = flag("dryRun");
  const who = describeIdentity(ctx.caller.identity) ?? "anonymous";
  const report = await ctx.registry.retention.run({
    dryRun,
    wait: flag("wait"),
    source: `api:${who}@${req.socket.remoteAddress ?? "unknown"}`,
    ...(appendAudit ? { audit: appendAudit } : {}),
  });
  if (report.skipped) return reply(res, 409, {}, report);
  if (!dryRun) await ctx.audit({ action: "retention", result: "ok", detail: retentionSummary(report) });
  ctx.logger.info("retention", retentionSummary(report));
  reply(res, 200, {}, report);
}
