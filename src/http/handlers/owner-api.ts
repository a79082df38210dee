import type { IncomingMessage, ServerResponse } from "node:http";
import { namespaceOf, type Identity } from "../../auth/authorizer.js";
import type { AuthServices } from "../../auth/services.js";
import { RegistryError } from "../../oci/errors.js";
import type { Origin } from "../../registry/events.js";
import type { Visibility } from "../../storage/auth-store.js";
import { readJsonObject, reply } from "../respond.js";

/** The admin API routes a namespace owner may use, and the namespace each concerns. */
export function ownedNamespaceOf(parts: readonly string[], method: string): string | undefined {
  const [top, a, b, c, ...more] = parts;
  if (top === "namespaces" && a && b === "members" && more.length === 0) {
    if (!c && (method === "GET" || method === "HEAD")) return a;
    if (c && (method === "PUT" || method === "DELETE")) return a;
  }
  if (top === "repositories" && parts.length >= 3 && parts.at(-1) === "visibility" && method === "PUT") return namespaceOf(parts.slice(1, -1).join("/"));
  return undefined;
}

/**
 * The namespace owners' part of the management API (the same endpoints, the same JSON, the same
 * audit entries as for administrators, whose requests never come here):
 *
 *   GET    /api/v1/namespaces/<ns>/members
 *   PUT    /api/v1/namespaces/<ns>/members/<user> {role: reader|writer|maintainer}
 *   DELETE /api/v1/namespaces/<ns>/members/<user>
 *   PUT    /api/v1/repositories/<ns>/<name…>/visibility {visibility: public|private|inherit}
 *
 * for a user whose role in `<ns>` is `owner`. The rule, as Harbor's project admins manage
 * members: an owner manages readers, writers and maintainers; making someone an owner, and
 * changing or removing an owner's membership (their own included), stay with administrators, so
 * no owner can lock out another or hand the namespace on. Anyone else: 403 DENIED.
 * Resolves false when the request is not one of these routes (the caller then needs to be an admin).
 */
export async function handleOwnerApi(
  services: AuthServices,
  identity: Identity,
  parts: readonly string[],
  req: IncomingMessage,
  res: ServerResponse,
  origin: Origin,
): Promise<boolean> {
  const method = req.method ?? "GET";
  const ns = ownedNamespaceOf(parts, method);
  if (ns === undefined || identity.kind !== "user") return false;
  const { store } = services;
  const role = (await store.rolesOf(identity.name)).find((m) => m.namespace === ns)?.role;
  if (role !== "owner") throw new RegistryError("DENIED", `managing ${ns} is for its owners and administrators`);
  const ops = services.adminOps({ name: identity.name, origin });
  const ok = (body: unknown = { ok: true }) => reply(res, 200, {}, body);
  const [top, , , user] = parts;
  if (top === "repositories") {
    const visibility = (await readJsonObject(req)).visibility;
    if (typeof visibility !== "string" || !["public", "private", "inherit"].includes(visibility)) {
      throw new RegistryError("INVALID", "visibility must be public, private or inherit");
    }
    await ops.setVisibility(parts.slice(1, -1).join("/"), visibility as Visibility | "inherit");
    ok();
    return true;
  }
  if (!user) {
    ok(await store.listMembers(ns));
    return true;
  }
  const current = (await store.listMembers(ns)).find((m) => m.user === user)?.role;
  if (current === "owner") throw new RegistryError("DENIED", `${user} is an owner of ${ns}: only administrators change or remove owners`);
  if (method === "DELETE") {
    await ops.removeMember(ns, user);
  } else {
    const requested = (await readJsonObject(req)).role;
    if (requested === "owner") throw new RegistryError("DENIED", "only administrators make owners");
    await ops.setMember(ns, user, typeof requested === "string" ? requested : "");
  }
  ok();
  return true;
}
