import type { AuthStore, Role, Visibility } from "../storage/auth-store.js";
import type { EventLog, Origin } from "../registry/events.js";
import { RegistryError } from "../oci/errors.js";
import { isValidName } from "../oci/reference.js";
import { newRobotToken } from "./credentials.js";
import { hashSecret } from "./passwords.js";

/**
 * The changes an administrator makes to access control, shared by the CLI and the management
 * API: each validates its input, writes, and records an `access.changed` event naming who did it
 * (where from is the event's origin: the API request, or the command line). A bad request throws
 * RegistryError: INVALID (400), NOT_FOUND (404) or CONFLICT (409).
 */

export interface Actor {
  /** Who makes the change (`cli` for the command line). */
  name: string;
  /** The API request it came with, if any. */
  origin?: Origin;
}

/** What an administrator changed, as an `access.changed` event says it (`op` is the audit log's action). */
export interface AccessChange {
  op: string;
  target?: string;
  repository?: string;
  detail?: Record<string, unknown>;
}

/** Records an access-control change through the event log (the audit log subscribes to it). */
export async function recordAccessChange(events: EventLog, actor: string, { op, target, repository, detail }: AccessChange, origin?: Origin): Promise<void> {
  await events.emit([
    events.event("access.changed", { actor, ...(repository !== undefined ? { repository } : {}), detail: { op, ...(target !== undefined ? { target } : {}), ...detail } }, origin),
  ]);
}

export const ROLES: readonly Role[] = ["reader", "writer", "maintainer", "owner"];
const USER_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function createAdminOps(store: AuthStore, events: EventLog, actor: Actor) {
  const audit = ({ action, ...change }: Omit<AccessChange, "op"> & { action: string }) => recordAccessChange(events, actor.name, { op: action, ...change }, actor.origin);
  const needUser = async (name: string) => {
    if (!(await store.getUser(name))) throw new RegistryError("NOT_FOUND", `no user ${name}`);
  };

  return {
    async addUser(name: string, password: string, admin: boolean): Promise<void> {
      if (!USER_RE.test(name)) throw new RegistryError("INVALID", `invalid user name ${JSON.stringify(name)} (lowercase letters, digits, . _ -)`);
      if (password.length < 8) throw new RegistryError("INVALID", "the password must have at least 8 characters");
      if (!(await store.createUser({ name, passwordHash: await hashSecret(password), admin, createdAt: Date.now() }))) {
        throw new RegistryError("CONFLICT", `user ${name} exists already`);
      }
      await audit({ action: "user.add", target: name, detail: { admin } });
    },
    async deleteUser(name: string): Promise<void> {
      if (!(await store.deleteUser(name))) throw new RegistryError("NOT_FOUND", `no user ${name}`);
      await audit({ action: "user.del", target: name });
    },
    async setPassword(name: string, password: string): Promise<void> {
      if (password.length < 8) throw new RegistryError("INVALID", "the password must have at least 8 characters");
      if (!(await store.setPassword(name, await hashSecret(password)))) throw new RegistryError("NOT_FOUND", `no user ${name}`);
      await store.revokeRefreshTokens(name, Date.now());
      await audit({ action: "user.passwd", target: name });
    },
    /** Resolves the secret, which is shown once and never stored. */
    async createToken(owner: string, name: string, scopes: string[], expiresAt?: number): Promise<string> {
      if (!USER_RE.test(name)) throw new RegistryError("INVALID", "a token name is required (lowercase letters, digits, . _ -)");
      if (scopes.length === 0) throw new RegistryError("INVALID", "at least one scope is required, e.g. repository:team/*:pull,push");
      await needUser(owner);
      const token = await newRobotToken();
      const record = { id: token.id, name, owner, secretHash: token.secretHash, scopes, createdAt: Date.now(), ...(expiresAt ? { expiresAt } : {}) };
      if (!(await store.createToken(record))) throw new RegistryError("CONFLICT", `${owner} has a live token named ${name} already`);
      await audit({ action: "token.create", target: `${owner}/${name}`, detail: { scopes, ...(expiresAt ? { expiresAt } : {}) } });
      return token.secret;
    },
    async revokeToken(owner: string, name: string): Promise<void> {
      if (!(await store.revokeToken(owner, name, Date.now()))) throw new RegistryError("NOT_FOUND", `no live token ${name} of ${owner}`);
      await audit({ action: "token.revoke", target: `${owner}/${name}` });
    },
    async putNamespace(name: string, visibility: Visibility, owner?: string): Promise<void> {
      if (!isValidName(name) || name.includes("/")) throw new RegistryError("INVALID", `invalid namespace ${JSON.stringify(name)}`);
      if (owner) await needUser(owner);
      await store.putNamespace({ name, visibility, ...(owner ? { owner } : {}), createdAt: Date.now() });
      if (owner) await store.setMember(name, owner, "owner");
      await audit({ action: "policy.change", target: name, detail: { namespace: name, visibility, ...(owner ? { owner } : {}) } });
    },
    async setMember(namespace: string, user: string, role: string): Promise<void> {
      if (!ROLES.includes(role as Role)) throw new RegistryError("INVALID", `role must be one of ${ROLES.join(", ")}`);
      if (!(await store.getNamespace(namespace))) throw new RegistryError("NOT_FOUND", `no namespace ${namespace}`);
      await needUser(user);
      await store.setMember(namespace, user, role as Role);
      await audit({ action: "policy.change", target: namespace, detail: { member: user, role } });
    },
    async removeMember(namespace: string, user: string): Promise<void> {
      if (!(await store.removeMember(namespace, user))) throw new RegistryError("NOT_FOUND", `${user} is not a member of ${namespace}`);
      await audit({ action: "policy.change", target: namespace, detail: { member: user, removed: true } });
    },
    async setVisibility(repository: string, visibility: Visibility | "inherit"): Promise<void> {
      if (!isValidName(repository)) throw new RegistryError("INVALID", `invalid repository ${JSON.stringify(repository)}`);
      await store.setRepositoryVisibility(repository, visibility === "inherit" ? undefined : visibility);
      await audit({ action: "policy.change", repository, detail: { visibility } });
    },
  };
}

export type AdminOps = ReturnType<typeof createAdminOps>;
