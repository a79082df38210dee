import type { RetentionRule } from "../oci/retention-rules.js";

/**
 * The policies configuration sets for garbage collection, retention and quotas: plain types in a
 * module of their own, so options.ts, gc.ts, retention.ts and quotas.ts all depend on it and not
 * on each other.
 */

export interface GcPolicy {
  /** Unreferenced manifests and links younger than this are kept (a push in progress needs them). */
  graceMs: number;
  /** Delete manifests nothing reaches: everywhere (true), nowhere (false), or in repositories matching these globs. */
  deleteUntagged: boolean | readonly string[];
  orphanReferrers: "keep" | "delete";
}

export interface RetentionPolicy {
  /** In configuration order; a repository follows the first whose glob matches (oci/retention-rules.ts). */
  rules: readonly RetentionRule[];
  /** Untagged manifests stored more recently than this stay (a push stores an index's children first). */
  graceMs: number;
}

/** One quota: on a namespace (glob over first path components) or on each repository matching a glob. */
export interface QuotaRule {
  name: string;
  /** Glob over namespaces (the first path component): `team`, `*`. */
  namespace?: string;
  /** Glob over repository names; each matching repository has the limit on its own. */
  repositories?: string;
  /** Bytes. */
  limit: number;
  /** Overrides the policy's `warnAt` for this rule. */
  warnAt?: number;
}

export interface QuotaPolicy {
  /** Fraction of a limit above which pushes carry a warning and a warning is logged (once per crossing). */
  warnAt: number;
  /** The first matching namespace rule and the first matching repository rule both apply. */
  rules: readonly QuotaRule[];
}
