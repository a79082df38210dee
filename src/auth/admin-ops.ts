import type { AuditEvent, AuthStore, Role, Visibility } from "../storage/auth-store.js";
import { isValidName } from "../oci/reference.js";
import { newRobotToken } from "./credentials.js";
import { hashSecret } from "./passwords.js";

/**
 * The changes an administrator makes to access control, shared by the CLI and the management
 * API: each validates its input, writes, and appends an audit event naming who did it and from
 * where. A bad request throws AdminError with an HTTP-like status.
 */

export class AdminError extends Error {
  constructor(message: string, readonly status: 400 | 404 | 409 = 400) {
    super(message);
  }
}

export interface Actor {
  /** Who makes the change (`cli` for the command line). */
  name: string;
  source: string;
}

export const ROLES: readonly Role[] = ["reader", "writer", "maintainer", "owner"];
const USER_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function createAdminOps(store: AuthStore, actor: Actor) {
  const audit = (event: Omit<AuditEvent, "time" | "source" | "result" | "actor">) =>
    store.appendAudit({ ...event, time: Date.now(), actor: actor.name, source: actor.source, result: "ok" });
  const needUser = async (name: string) => {
    if (!(await store.getUser(name))) throw new AdminError(`no user ${name}`, 404);
  };

  return {
    async addUser(name: string, password: string, admin: boolean): Promise<void> {
      if (!USER_RE.test(name)) throw new AdminError(`invalid user name ${JSON.stringify(name)} (lowercase letters, digits, . _ -)`);
      if (password.length < 8) throw new AdminError("the password must have at least 8 characters");
      if (!(await store.createUser({ name, passwordHash: await hashSecret(password), admin, createdAt: Date.now() }))) {
        throw new AdminError(`user ${name} exists already`, 409);
      }
      await audit({ action: "user.add", target: name, detail: { admin } });
    },
    async deleteUser(name: string): Promise<void> {
      if (!(await store.deleteUser(name))) throw new AdminError(`no user ${name}`, 404);
      await audit({ action: "user.del", target: name });
    },
    async setPassword(name: string, password: string): Promise<void> {
      if (password.length < 8) throw new AdminError("the password must have at least 8 characters");
      if (!(await store.setPassword(name, await hashSecret(password)))) throw new AdminError(`no user ${name}`, 404);
      await store.revokeRefreshTokens(name, Date.now());
      await audit({ action: "user.passwd", target: name });
    },
    /** Resolves the secret, which is shown once and never stored. */
    async createToken(owner: string, name: string, scopes: string[], expiresAt?: number): Promise<string> {
      if (!USER_RE.test(name)) throw new AdminError("a token name is required (lowercase letters, digits, . _ -)");
      if (scopes.length === 0) throw new AdminError("at least one scope is required, e.g. repository:team/*:pull,push");
      await needUser(owner);
      const token = await newRobotToken();
      const record = { id: token.id, name, owner, secretHash: token.secretHash, scopes, createdAt: Date.now(), ...(expiresAt ? { expiresAt } : {}) };
      if (!(await store.createToken(record))) throw new AdminError(`${owner} has a live token named ${name} already`, 409);
      await audit({ action: "token.create", target: `${owner}/${name}`, detail: { scopes, ...(expiresAt ? { expiresAt } : {}) } });
      return token.secret;
    },
    async revokeToken(owner: string, name: string): Promise<void> {
      if (!(await store.revokeToken(owner, name, Date.now()))) throw new AdminError(`no live token ${name} of ${owner}`, 404);
      await audit({ action: "token.revoke", target: `${owner}/${name}` });
    },
    async putNamespace(name: string, visibility: Visibility, owner?: string): Promise<void> {
      if (!isValidName(name) || name.includes("/")) throw new AdminError(`invalid namespace ${JSON.stringify(name)}`);
      if (owner) await needUser(owner);
      await store.putNamespace({ name, visibility, ...(owner ? { owner } : {}), createdAt: Date.now() });
      if (owner) await store.setMember(name, owner, "owner");
      await audit({ action: "policy.change", target: name, detail: { namespace: name, visibility, ...(owner ? { owner } : {}) } });
    },
    async setMember(namespace: string, user: string, role: string): Promise<void> {
      if (!ROLES.includes(role as Role)) throw new AdminError(`role must be one of ${ROLES.join(", ")}`);
      if (!(await store.getNamespace(namespace))) throw new AdminError(`no namespace ${namespace}`, 404);
      await needUser(user);
      await store.setMember(namespace, user, role as Role);
      await audit({ action: "policy.change", target: namespace, detail: { member: user, role } });
    },
    async removeMember(namespace: string, user: string): Promise<void> {
      if (!(await store.removeMember(namespace, user))) throw new AdminError(`${user} is not a member of ${namespace}`, 404);
      await audit({ action: "policy.change", target: namespace, detail: { member: user, removed: true } });
    },
    async setVisibility(repository: string, visibility: Visibility | "inherit"): Promise<void> {
      if (!isValidName(repository)) throw new AdminError(`invalid repository ${JSON.stringify(repository)}`);
      await store.setRepositoryVisibility(repository, visibility === "inherit" ? undefined : visibility);
      await audit({ action: "policy.change", repository, detail: { visibility } });
    },
  };
}

export type AdminOps = ReturnType<typeof createAdminOps>;
