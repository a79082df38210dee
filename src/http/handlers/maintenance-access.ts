import { RegistryError } from "../../oci/errors.js";
import type { Action } from "../../auth/scope.js";
import type { RequestContext } from "../context.js";

/**
 * Who may call the maintenance endpoints (garbage collection, retention, usage): with access
 * control on, administrators; with it off, whoever may do `action` (so a pull-only public
 * listener refuses runs that delete). Also checks the method. Sets `ctx.caller`.
 */
export async function authorizeMaintenance(
  ctx: RequestContext,
  { methods, action, what }: { methods: string[]; action?: Action; what: string },
): Promise<void> {
  if (!methods.includes(ctx.req.method ?? "")) {
    throw new RegistryError("UNSUPPORTED", `method ${ctx.req.method} not allowed here`, undefined, {
      headers: { Allow: methods.join(", ") },
    });
  }
  ctx.caller = await ctx.guard.check(ctx.req, ctx.guard.enabled || !action ? { actions: [] } : { actions: [action] });
  if (ctx.guard.enabled && !(ctx.caller.identity.kind === "user" && ctx.caller.identity.admin)) {
    throw new RegistryError("DENIED", `${what} are for administrators`);
  }
}

/** A boolean query parameter: absent → undefined; `true`/`1`/empty, `false`/`0`; else 400 INVALID, as for any other bad parameter. */
export function queryFlag(url: URL, name: string): boolean | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  if (v === "true" || v === "1" || v === "") return true;
  if (v === "false" || v === "0") return false;
  throw new RegistryError("INVALID", `${name} must be true or false`, { [name]: v });
}
