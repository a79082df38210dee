import { reportRuns } from "./run-events.js";
import type { EventLog, Origin } from "./events.js";
import type { Digest } from "../oci/digest.js";
import { decideRetention, ruleFor, type KeptTag, type TagFacts } from "../oci/retention-rules.js";
import { createTagRules, type TagRule } from "../oci/tag-rules.js";
import type { ManifestNode } from "../storage/lifecycle-store.js";
import type { MetadataStore } from "../storage/metadata-store.js";
import { deleteUnreachable, markReachable } from "./gc.js";
import { takeLock } from "./locks.js";
import { listAll } from "./paging.js";
import type { RetentionPolicy } from "./policies.js";

export type { RetentionPolicy } from "./policies.js";

/** The lock one retention run at a time holds, across processes and nodes sharing the metadata store. */
export const RETENTION_LOCK = "retention";

export interface RetentionRunOptions {
  /** Decide and report, change nothing. */
  dryRun?: boolean;
  /** When another run holds the lock: wait for it (true) or skip (false, default). */
  wait?: boolean;
  /** Who started the run (the summary's actor and each deletion's `detail.startedBy`). */
  origin?: Origin;
}

export interface RetentionRepoReport {
  repository: string;
  /** The rule the repository followed. */
  rule: string;
  /** Tags deleted (in a dry run: that would be), most recently pushed first. */
  deleted: TagFacts[];
  /** Tags kept, with every reason that holds, most recently pushed first. */
  kept: KeptTag[];
  /** Tags chosen for deletion that a push moved (or a client deleted) first: left as they are. */
  moved: TagFacts[];
  /** Manifests removed (would be) because nothing reaches them any more, when the rule asks. */
  untaggedManifests: Digest[];
}

export interface RetentionReport {
  dryRun: boolean;
  /** Set when another run held the lock and this one did nothing. */
  skipped?: string;
  startedAt: string;
  durationMs: number;
  tagsDeleted: number;
  tagsKept: number;
  manifestsDeleted: number;
  /** Only repositories some rule covers. */
  repositories: RetentionRepoReport[];
}

export interface Retention {
  run(options?: RetentionRunOptions): Promise<RetentionReport>;
}

/**
 * Applies the retention rules. Per repository: list the tags, decide (pure), delete each doomed tag
 * only if it still points where it did (a concurrent push wins), then, when the rule asks, remove
 * the manifests nothing reaches any more, parents before children, each re-checked in its own
 * transaction (LifecycleStore.deleteManifestIfUnreachable). Blob bytes are left to garbage collection.
 * A dry run makes the same decisions from the same listing and assumes the tag deletions succeed.
 */
export function createRetention(metadata: MetadataStore, policy: RetentionPolicy, tagRules: readonly TagRule[], events: EventLog): Retention {
  const immutable = createTagRules(tagRules);

  /** Manifests of `repo` nothing would reach once only `tagged` digests carry tags. */
  function unreachable(nodes: ManifestNode[], tagged: (n: ManifestNode) => boolean, cutoff: number): ManifestNode[] {
    const marked = markReachable(nodes, (n, present) => {
      if (tagged(n) || n.createdAt >= cutoff) return true;
      // An orphaned referrer is garbage collection's call (gc.orphanReferrers), not retention's.
      return n.subject !== undefined && !present(n.subject);
    });
    return nodes.filter((n) => !marked.has(n.digest));
  }

  return {
    run: reportRuns(events, "retention.completed", async ({ dryRun = false, wait = false, origin }: RetentionRunOptions = {}): Promise<RetentionReport> => {
      const started = Date.now();
      const report: RetentionReport = {
        dryRun,
        startedAt: new Date(started).toISOString(),
        durationMs: 0,
        tagsDeleted: 0,
        tagsKept: 0,
        manifestsDeleted: 0,
        repositories: [],
      };
      if (policy.rules.length === 0) return report;
      const lock = await takeLock(metadata, RETENTION_LOCK, { wait });
      if (!lock) return { ...report, skipped: "another retention run is in progress" };

      try {
        const cutoff = started - policy.graceMs;
        const repos = await listAll((page) => metadata.listRepositories(page), (r) => r);
        for (const repo of repos) {
          const rule = ruleFor(policy.rules, repo);
          if (!rule) continue;
          const actor = `retention:${rule.name}`;
          const startedBy = origin?.actor;
          const detail = { rule: rule.name, ...(startedBy !== undefined ? { startedBy } : {}) };

          const tags = await listAll((page) => metadata.listTagsForRetention(repo, page), (t) => t.tag);
          const decision = decideRetention(rule, tags, started, (tag) => immutable.immutableRule(repo, tag));
          const entry: RetentionRepoReport = { repository: repo, rule: rule.name, deleted: [], kept: decision.kept, moved: [], untaggedManifests: [] };
          for (const t of decision.doomed) {
            if (dryRun) entry.deleted.push(t);
            else {
              const change = events.event("tag.deleted", { actor, repository: repo, target: { tag: t.tag, digest: t.digest }, detail }, origin);
              if (await metadata.deleteTagIf(repo, t.tag, t.digest, events.forStore([change]))) {
                entry.deleted.push(t);
                await events.published([change]);
              } else entry.moved.push(t);
            }
          }

          if (rule.deleteUntagged) {
            const nodes = await listAll((page) => metadata.listManifestNodes(repo, page), (n) => n.digest);
            const stillTagged = new Set(decision.kept.map((t) => t.digest));
            const doomed = unreachable(nodes, (n) => (dryRun ? stillTagged.has(n.digest) : n.tagged), cutoff);
            const describe = (digest: Digest) => events.event("manifest.deleted", { actor, repository: repo, target: { digest }, detail: { ...detail, untagged: true } }, origin);
            entry.untaggedManifests = dryRun ? doomed.map((n) => n.digest) : await deleteUnreachable(metadata, repo, doomed, cutoff, events, describe);
          }

          report.tagsDeleted += entry.deleted.length;
          report.tagsKept += entry.kept.length;
          report.manifestsDeleted += entry.untaggedManifests.length;
          report.repositories.push(entry);
        }
      } finally {
        await lock.release();
      }
      report.durationMs = Date.now() - started;
      return report;
    }, (r) => ({ outcome: r.skipped ? "skipped" : r.dryRun ? "dry_run" : "completed", detail: retentionSummary(r) })),
  };
}

/** The report's numbers, and per repository what went, for a log line. */
export function retentionSummary(report: RetentionReport): Record<string, unknown> {
  return {
    dryRun: report.dryRun,
    tagsDeleted: report.tagsDeleted,
    tagsKept: report.tagsKept,
    manifestsDeleted: report.manifestsDeleted,
    durationMs: report.durationMs,
  };
}
