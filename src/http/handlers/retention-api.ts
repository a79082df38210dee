import { retentionSummary } from "../../registry/retention.js";
import type { RequestContext } from "../context.js";
import { reply } from "../respond.js";
import { authorizeMaintenance, queryFlag } from "./maintenance-access.js";

/**
 *   POST /api/v1/retention[?dryRun=true][&wait=true]   → the run's report (registry/retention.ts)
 *
 * Applies the configured retention rules now. With access control on, administrators only, and
 * every deletion is an event of the system actor `retention:<rule>` started by the administrator;
 * with access control off, whoever may delete. A run another node
 * or process holds the lock for answers 409 with the report's `skipped` reason, unless `wait=true`.
 */
export async function handleRetentionApi(ctx: RequestContext): Promise<void> {
  const { res, url } = ctx;
  await authorizeMaintenance(ctx, { methods: ["POST"], action: "delete", what: "retention runs" });
  const flag = (name: string) => queryFlag(url, name) ?? false;
  const dryRun = flag("dryRun");
  const report = await ctx.registry.retention.run({ dryRun, wait: flag("wait"), origin: ctx.origin });
  if (report.skipped) return reply(res, 409, {}, report);
  ctx.logger.info("retention", retentionSummary(report));
  reply(res, 200, {}, report);
}
