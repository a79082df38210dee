import type { AuthStore, Role, Visibility } from "../storage/auth-store.js";
import { globMatch, grantedActions, type Access, type Action } from "./scope.js";

/** Who is asking. */
export type Identity =
  | { kind: "anonymous" }
  | { kind: "user"; name: string; admin: boolean }
  | { kind: "token"; id: string; owner: string; name: string; admin: boolean; scopes: Access[] };

/** A rule from the config file: who may do what on repositories matching a glob. */
export interface ConfigPolicy {
  repositories: string;
  /** User names; `*` is any authenticated user. */
  users: string[];
  /** Also grant these actions to anonymous users. */
  anonymous: boolean;
  actions: Action[];
}

export interface AuthorizerOptions {
  store: AuthStore;
  policies: ConfigPolicy[];
  /** Visibility of a namespace that has no record (default private). */
  defaultVisibility: Visibility;
}

const ROLE_ACTIONS: Record<Role, Action[]> = {
  reader: ["pull"],
  writer: ["pull", "push"],
  maintainer: ["pull", "push", "delete"],
  owner: ["pull", "push", "delete"],
};

export function namespaceOf(repository: string): string {
  return repository.split("/")[0]!;
}

export function describeIdentity(identity: Identity): string | undefined {
  if (identity.kind === "anonymous") return undefined;
  return identity.kind === "user" ? identity.name : `token:${identity.owner}/${identity.name}`;
}

/**
 * Decides what an identity may do on a repository. Grants combine as a union:
 *
 * - admins may do everything;
 * - a user owns the namespace named after them (`alice/*`);
 * - namespace members get their role's actions (reader: pull; writer: +push; maintainer and
 *   owner: +delete);
 * - anyone, anonymous included, may pull a public repository (a repository's own visibility
 *   overrides its namespace's, which defaults to `defaultVisibility`);
 * - config-file policies add actions for the users (or anonymous) they name.
 *
 * A robot token gets what its owner may do, narrowed to the token's own scopes, and never less
 * than an anonymous caller (public repositories stay pullable with it).
 */
export interface Authorizer {
  allowed(identity: Identity, repository: string): Promise<Set<Action>>;
}

export function createAuthorizer({ store, policies, defaultVisibility }: AuthorizerOptions): Authorizer {
  async function visibility(repository: string): Promise<Visibility> {
    return (
      (await store.getRepositoryVisibility(repository)) ??
      (await store.getNamespace(namespaceOf(repository)))?.visibility ??
      defaultVisibility
    );
  }

  async function forUser(name: string | undefined, admin: boolean, repository: string): Promise<Set<Action>> {
    const granted = new Set<Action>();
    const add = (actions: readonly Action[]) => actions.forEach((a) => granted.add(a));
    if (admin) return new Set(["pull", "push", "delete"]);
    if (name !== undefined) {
      const ns = namespaceOf(repository);
      if (ns === name) add(ROLE_ACTIONS.owner);
      const membership = (await store.rolesOf(name)).find((m) => m.namespace === ns);
      if (membership) add(ROLE_ACTIONS[membership.role]);
    }
    for (const policy of policies) {
      if (!globMatch(policy.repositories, repository)) continue;
      if (name === undefined ? policy.anonymous : policy.users.includes(name) || policy.users.includes("*")) add(policy.actions);
    }
    if (!granted.has("pull") && (await visibility(repository)) === "public") granted.add("pull");
    return granted;
  }

  return {
    async allowed(identity, repository) {
      if (identity.kind === "anonymous") return forUser(undefined, false, repository);
      if (identity.kind === "user") return forUser(identity.name, identity.admin, repository);
      const owner = await forUser(identity.owner, identity.admin, repository);
      // A token never has less than an anonymous caller: public pulls stay open to it.
      const scoped = await forUser(undefined, false, repository);
      for (const scope of identity.scopes) {
        if (scope.type !== "repository" || !globMatch(scope.name, repository)) continue;
        for (const action of grantedActions(scope.actions, owner)) scoped.add(action);
      }
      return scoped;
    },
  };
}
