import { gcSummary } from "../../registry/gc.js";
import type { RequestContext } from "../context.js";
import { reply } from "../respond.js";
import { authorizeMaintenance, queryFlag } from "./maintenance-access.js";

/**
 * Registry maintenance over HTTP, with or without access control:
 *
 *   POST /api/v1/gc[?dryRun=true][&deleteUntagged=true|false][&wait=true]   → the run's report
 *
 * With access control on, only administrators may call it; with it off, whoever may delete (so a
 * pull-only public listener refuses). A run another node or process holds the lock for answers
 * 409 with the report's `skipped` reason, unless `wait=true`.
 */
export async function handleGcApi(ctx: RequestContext): Promise<void> {
  const { res, url } = ctx;
  await authorizeMaintenance(ctx, { methods: ["POST"], action: "delete", what: "garbage collection runs" });
  const flag = (name: string) => queryFlag(url, name);
  const dryRun = flag("dryRun") ?? false;
  const deleteUntagged = flag("deleteUntagged");
  const report = await ctx.registry.gc.run({
    origin: ctx.origin,
    dryRun,
    wait: flag("wait") ?? false,
    ...(deleteUntagged !== undefined ? { deleteUntagged } : {}),
  });
  if (report.skipped) return reply(res, 409, {}, report);
  ctx.logger.info("garbage collection", gcSummary(report));
  reply(res, 200, {}, report);
}
