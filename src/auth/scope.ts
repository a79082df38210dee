/**
 * Docker token scopes: `repository:<name>:<action>[,<action>]`, `registry:catalog:*`.
 * Robot tokens use the same grammar with `*` globs in the name (`repository:team/*:pull,push`).
 */

export { globMatch } from "../oci/glob.js";

export type Action = "pull" | "push" | "delete";
export const ACTIONS: readonly Action[] = ["pull", "push", "delete"];

/** The wildcard action: every action the caller holds (containers/image asks `repository:NAME:*` to delete). */
export const ANY_ACTION = "*";

/**
 * What a request for `requested` actions yields from the `held` ones: `*` stands for all of
 * `held`, a named action counts only when held, anything else (unknown actions) yields nothing.
 * In `ACTIONS` order, without duplicates.
 */
export function grantedActions(requested: readonly string[], held: ReadonlySet<Action>): Action[] {
  const wildcard = requested.includes(ANY_ACTION);
  return ACTIONS.filter((a) => held.has(a) && (wildcard || requested.includes(a)));
}

/** Whether actions granted in a token's access claim cover `action` (a granted `*` covers all). */
export function coversAction(granted: readonly string[], action: Action): boolean {
  return granted.includes(action) || granted.includes(ANY_ACTION);
}

export interface Access {
  type: "repository" | "registry";
  name: string;
  actions: string[];
}

/**
 * Parses one scope. The name may itself contain `:` (a registry host with a port), so the type
 * is before the first colon and the actions after the last. Undefined when malformed.
 */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first);
  if (type !== "repository" && type !== "registry") return undefined;
  const name = scope.slice(first + 1, last);
  const actions = scope.slice(last + 1).split(",").map((a) => a.trim()).filter(Boolean);
  if (name === "" || actions.length === 0) return undefined;
  return { type, name, actions };
}

/** All scopes of a request: several `scope` parameters, each possibly space-separated. */
export function parseScopes(values: string[]): Access[] {
  return values.flatMap((v) => v.split(" ")).filter(Boolean).map(parseScope).filter((a): a is Access => a !== undefined);
}

export function formatScope(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(",")}`;
}
