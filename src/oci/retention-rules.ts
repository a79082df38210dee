import type { Digest } from "./digest.js";
import { globMatch } from "./glob.js";
import { compileTagPattern } from "./tag-rules.js";

/**
 * Retention rules: which tags of a repository to keep. Pure decisions; the registry lists the tags,
 * asks, and deletes the rest.
 *
 * A tag is kept when ANY of these holds, and deleted otherwise:
 * - a tag rule makes it immutable (always; retention never deletes an immutable tag);
 * - it is among the rule's `keepLast` most recently pushed tags of the repository (every tag
 *   counts towards N, including tags kept for another reason; ties on the push time go to the
 *   tag name in byte-wise order);
 * - it was pushed, or pulled, within `keepWithin` of the run;
 * - it matches one of the `keep` tag patterns (see oci/tag-rules.ts: `semver`, `/regex/`, glob).
 *
 * Each repository follows the FIRST rule, in configuration order, whose `repositories` glob
 * matches it, as with firewall rules: put narrow globs (`prod/*`) before broad ones (`*`). A
 * repository no rule matches is never touched.
 */

export interface RetentionRule {
  /** Named in reports and in the audit log's actor (`retention:<name>`); `retention.rules[i]` when unnamed. */
  name: string;
  /** Glob of the repositories the rule covers. */
  repositories: string;
  keepLast?: number;
  /** Milliseconds: tags pushed or pulled within this long before the run are kept. */
  keepWithin?: number;
  /** Tag patterns always kept. */
  keep: readonly string[];
  /** Also remove manifests no tag, index or subject reaches any more, once the tags are gone. */
  deleteUntagged: boolean;
}

export interface TagFacts {
  tag: string;
  digest: Digest;
  pushedAt: number;
  pulledAt?: number;
}

/** Why a tag stays: `immutable:<tag rule>`, `keepLast`, `keepWithin:pushed`, `keepWithin:pulled`, `pattern:<pattern>`. */
export type KeepReason = string;

export interface KeptTag extends TagFacts {
  reasons: KeepReason[];
}

export interface RetentionDecision {
  /** Most recently pushed first. */
  kept: KeptTag[];
  /** Most recently pushed first. */
  doomed: TagFacts[];
}

/** The rule `repo` follows: the first whose glob matches, or undefined. */
export function ruleFor<R extends Pick<RetentionRule, "repositories">>(rules: readonly R[], repo: string): R | undefined {
  return rules.find((r) => globMatch(r.repositories, repo));
}

/** Byte-wise, like the stores' ORDER BY, so a decision does not depend on the locale. */
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Decides, for every tag of one repository, whether `rule` keeps it. `immutableRule` names the tag
 * rule that makes a tag immutable (undefined when none does). `now` is the run's clock.
 */
export function decideRetention(
  rule: RetentionRule,
  tags: readonly TagFacts[],
  now: number,
  immutableRule: (tag: string) => string | undefined = () => undefined,
): RetentionDecision {
  const patterns = rule.keep.map((p) => ({ pattern: p, matches: compileTagPattern(p) }));
  const newestFirst = [...tags].sort((a, b) => b.pushedAt - a.pushedAt || compareNames(a.tag, b.tag));
  const since = rule.keepWithin !== undefined ? now - rule.keepWithin : undefined;
  const kept: KeptTag[] = [];
  const doomed: TagFacts[] = [];
  newestFirst.forEach((t, i) => {
    const reasons: KeepReason[] = [];
    const immutable = immutableRule(t.tag);
    if (immutable !== undefined) reasons.push(`immutable:${immutable}`);
    if (rule.keepLast !== undefined && i < rule.keepLast) reasons.push("keepLast");
    if (since !== undefined && t.pushedAt >= since) reasons.push("keepWithin:pushed");
    if (since !== undefined && t.pulledAt !== undefined && t.pulledAt >= since) reasons.push("keepWithin:pulled");
    for (const p of patterns) if (p.matches(t.tag)) reasons.push(`pattern:${p.pattern}`);
    if (reasons.length > 0) kept.push({ ...t, reasons });
    else doomed.push(t);
  });
  return { kept, doomed };
}
