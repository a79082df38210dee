import { RegistryError } from "../../oci/errors.js";
import { isValidName } from "../../oci/reference.js";
import type { RequestContext } from "../context.js";
import { reply } from "../respond.js";
import { authorizeMaintenance, queryFlag } from "./maintenance-access.js";

export const USAGE_PREFIX = "/api/v1/usage";

/**
 * Storage usage over HTTP, read-only:
 *
 *   GET /api/v1/usage[?fresh=true]          registry-wide totals, deduplication savings, namespaces
 *                                           (cached for a minute; `fresh` recomputes)
 *   GET /api/v1/usage/<namespace-or-repo>   that repository and every one under it, live, with quotas
 *
 * With access control on, only administrators may call it (like the management API); with it off,
 * anyone who may reach the registry.
 */
export async function handleUsageApi(ctx: RequestContext): Promise<void> {
  const { res, url, registry } = ctx;
  await authorizeMaintenance(ctx, { methods: ["GET", "HEAD"], what: "usage reports" });
  const scope = decodeURIComponent(url.pathname.slice(USAGE_PREFIX.length + 1)).replace(/\/+$/, "");
  if (scope === "") {
    const fresh = queryFlag(url, "fresh") ?? false;
    return reply(res, 200, {}, await registry.usage.summary({ fresh }));
  }
  if (!isValidName(scope)) throw new RegistryError("NAME_INVALID", `not a repository or namespace name: ${scope}`, { name: scope });
  const report = await registry.usage.scope(scope);
  if (report.repositories.length === 0) {
    throw new RegistryError("NAME_UNKNOWN", `no repository is named ${scope} or lies under ${scope}/`, { name: scope });
  }
  reply(res, 200, {}, report);
}
