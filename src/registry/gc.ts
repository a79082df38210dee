import { reportRuns } from "./run-events.js";
import type { DomainEvent, EventLog, Origin } from "./events.js";
import type { Digest } from "../oci/digest.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { ManifestNode } from "../storage/lifecycle-store.js";
import type { MetadataStore } from "../storage/metadata-store.js";
import { GC_LOCK, finishDeleting, sweepBlobs } from "./gc-sweep.js";
import { globMatch } from "../oci/glob.js";
import type { GcPolicy } from "./policies.js";
import type { Uploads } from "./uploads.js";
import { takeLock } from "./locks.js";
import { listAll } from "./paging.js";

export interface GcOptions {
  /** Report what would be deleted and delete nothing. */
  dryRun?: boolean;
  /** Whether manifests no tag, index or live subject reaches are deleted: everywhere, nowhere, per repository. */
  deleteUntagged?: boolean | ((repo: string) => boolean);
  /** `delete` removes referrers whose subject is not in the repository (after the grace period). */
  orphanReferrers?: "keep" | "delete";
  /**
   * Manifests stored and blob links made within this many ms are kept even when unreferenced: a
   * client pushes layers, then an index's children, before the manifest that references them.
   */
  graceMs: number;
  /** When another sweep holds the lock: wait for it (true) or skip this run (false, default). */
  wait?: boolean;
  /** Stops the run between batches (the process is shutting down); the report says `aborted`. */
  signal?: AbortSignal;
  /** Who started the run (its events' actor and `detail.startedBy`). */
  origin?: Origin;
  onProgress?: (event: GcProgress) => void;
}

export interface GcProgress {
  /** `repositories`: manifests and links, one repository at a time; `blobs`: the sweep. */
  phase: "uploads" | "repositories" | "blobs";
  /** Repositories done, or blobs deleted so far. */
  done: number;
  total?: number;
}

export interface GcItem {
  repository?: string;
  digest: Digest;
  size?: number;
}

export interface GcReport {
  dryRun: boolean;
  /** Set when another sweep held the lock and this run did nothing. */
  skipped?: string;
  /** Set when the run was stopped partway (its signal fired); what it did is consistent and counted. */
  aborted?: boolean;
  startedAt: string;
  durationMs: number;
  repositories: number;
  uploadsPurged: number;
  manifestsDeleted: number;
  linksRemoved: number;
  blobsDeleted: number;
  bytesReclaimed: number;
  /** What went (or would go), the first ITEM_LIMIT of each kind; counts above are exact. */
  manifests: GcItem[];
  blobs: GcItem[];
  truncated: boolean;
}

export interface GarbageCollector {
  /** One collection; `options` override the configured policy. Never throws for a held lock: see `skipped`. */
  run(options?: Partial<GcOptions>): Promise<GcReport>;
}

/** The report's numbers without its item lists, for a log line. */
export function gcSummary(report: GcReport): Record<string, unknown> {
  const { manifests: _m, blobs: _b, ...numbers } = report;
  return numbers;
}

const ITEM_LIMIT = 1000;
const PAGE = 1000;

/** Manifests of one repository that the mark phase reaches. */
export function markReachable(nodes: readonly ManifestNode[], keep: (node: ManifestNode, present: (d: Digest) => boolean) => boolean): Set<Digest> {
  const byDigest = new Map(nodes.map((n) => [n.digest, n]));
  const referrers = new Map<Digest, ManifestNode[]>();
  for (const n of nodes) {
    if (n.subject) referrers.set(n.subject, [...(referrers.get(n.subject) ?? []), n]);
  }
  const present = (d: Digest) => byDigest.has(d);
  const marked = new Set<Digest>();
  const stack = nodes.filter((n) => keep(n, present));
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (marked.has(n.digest)) continue;
    marked.add(n.digest);
    for (const child of n.children) {
      const c = byDigest.get(child);
      if (c) stack.push(c);
    }
    stack.push(...(referrers.get(n.digest) ?? []));
  }
  return marked;
}

/** A run's counts and item lists, filled in as it goes. */
function createTally(report: GcReport) {
  const note = (list: GcItem[], item: GcItem) => {
    if (list.length < ITEM_LIMIT) list.push(item);
    else report.truncated = true;
  };
  return {
    manifest(repository: string, digest: Digest) {
      report.manifestsDeleted++;
      note(report.manifests, { repository, digest });
    },
    blob(digest: Digest, size: number) {
      report.blobsDeleted++;
      report.bytesReclaimed += size;
      note(report.blobs, { digest, size });
    },
  };
}

/** What a dry run would have removed so far, to decide which blobs would end up unreferenced. */
interface DryRunState {
  links: Set<string>;
  manifests: Set<string>;
  /** Blobs whose last link or reference may be among those. */
  touched: Set<Digest>;
}

/**
 * Deletes `doomed` manifests of `repo`, each re-checked in its own transaction
 * (deleteManifestIfUnreachable). Parents and subjects go first; a child or referrer refused in one
 * pass goes in the next, until a pass deletes nothing. Resolves the digests deleted.
 */
export async function deleteUnreachable(
  metadata: MetadataStore,
  repo: string,
  doomed: readonly ManifestNode[],
  cutoff: number,
  events: EventLog,
  describe: (digest: Digest) => DomainEvent,
): Promise<Digest[]> {
  const deleted: Digest[] = [];
  let pending = doomed;
  while (pending.length > 0) {
    const refused: ManifestNode[] = [];
    for (const n of pending) {
      // Each deletion commits its `manifest.deleted` with it, like a client's DELETE.
      const change = describe(n.digest);
      if (await metadata.deleteManifestIfUnreachable(repo, n.digest, cutoff, events.forStore([change]))) {
        deleted.push(n.digest);
        await events.published([change]);
      } else refused.push(n);
    }
    if (refused.length === pending.length) break;
    pending = refused;
  }
  return deleted;
}

export function createGarbageCollector(blobs: BlobStore, metadata: MetadataStore, uploads: Uploads, policy: GcPolicy, events: EventLog): GarbageCollector {
  const configured = (repo: string) =>
    typeof policy.deleteUntagged === "boolean" ? policy.deleteUntagged : policy.deleteUntagged.some((g) => globMatch(g, repo));

  /** Marks one repository's manifests, then deletes (or, dry, records) its unreachable manifests and stale links. */
  async function collectRepository(
    repo: string,
    options: GcOptions & { cutoff: number; keepUntagged: boolean },
    report: GcReport,
    tally: ReturnType<typeof createTally>,
    dry: DryRunState | undefined,
  ): Promise<void> {
    const { cutoff } = options;
    const nodes = await listAll((page) => metadata.listManifestNodes(repo, page), (n) => n.digest);
    const marked = markReachable(nodes, (n, present) => {
      if (n.tagged || n.createdAt >= cutoff) return true;
      const orphan = n.subject !== undefined && !present(n.subject);
      if (orphan) return options.orphanReferrers === "keep";
      return options.keepUntagged;
    });
    const doomed = nodes.filter((n) => !marked.has(n.digest));
    if (dry) {
      for (const n of doomed) {
        tally.manifest(repo, n.digest);
        dry.manifests.add(`${repo}@${n.digest}`);
        for (const b of n.blobs) dry.touched.add(b);
      }
    } else {
      const startedBy = options.origin?.actor;
      const detail = { untagged: true, ...(startedBy !== undefined ? { startedBy } : {}) };
      const describe = (digest: Digest) => events.event("manifest.deleted", { actor: "gc", repository: repo, target: { digest }, detail }, options.origin);
      for (const d of await deleteUnreachable(metadata, repo, doomed, cutoff, events, describe)) tally.manifest(repo, d);
    }

    const live = new Set<Digest>();
    for (const n of nodes) if (marked.has(n.digest)) for (const b of n.blobs) live.add(b);
    const links = await listAll((page) => metadata.listLinks(repo, page), (l) => l.digest);
    const stale = links.filter((l) => !live.has(l.digest) && l.createdAt < cutoff).map((l) => l.digest);
    if (dry) {
      report.linksRemoved += stale.length;
      for (const d of stale) {
        dry.links.add(`${repo}@${d}`);
        dry.touched.add(d);
      }
      return;
    }
    for (let at = 0; at < stale.length; at += PAGE) {
      report.linksRemoved += (await metadata.unlinkIfUnreferenced(repo, stale.slice(at, at + PAGE), cutoff)).length;
    }
  }

  /** The blobs a real run would sweep: unreferenced now, or kept only by what it would remove. */
  async function dryRunBlobs(dry: DryRunState, tally: ReturnType<typeof createTally>, signal?: AbortSignal): Promise<void> {
    const unreferenced = await listAll((page) => metadata.listUnreferencedBlobs(page), (b) => b.digest);
    const doomed = new Map(unreferenced.map((b) => [b.digest, b.size]));
    const candidates = [...dry.touched].filter((d) => !doomed.has(d));
    for (let at = 0; at < candidates.length && !signal?.aborted; at += PAGE) {
      const page = candidates.slice(at, at + PAGE);
      const users = await metadata.blobUsers(page);
      for (const digest of page) {
        // Absent from the map: not live, nothing to delete.
        const u = users.get(digest);
        const gone =
          u !== undefined &&
          !u.claimed &&
          u.links.every((l) => dry.links.has(`${l.repository}@${digest}`)) &&
          u.references.every((r) => dry.manifests.has(`${r.repository}@${r.manifest}`));
        if (gone) doomed.set(digest, u.size);
      }
    }
    for (const [digest, size] of doomed) tally.blob(digest, size);
  }

  return {
    run: reportRuns(events, "gc.completed", async (overrides: Partial<GcOptions> = {}): Promise<GcReport> => {
      const options: GcOptions = { graceMs: policy.graceMs, orphanReferrers: policy.orphanReferrers, ...overrides };
      const untagged = options.deleteUntagged ?? configured;
      const deleteUntagged = typeof untagged === "boolean" ? () => untagged : untagged;
      const started = Date.now();
      const dryRun = options.dryRun ?? false;
      const report: GcReport = {
        dryRun,
        startedAt: new Date(started).toISOString(),
        durationMs: 0,
        repositories: 0,
        uploadsPurged: 0,
        manifestsDeleted: 0,
        linksRemoved: 0,
        blobsDeleted: 0,
        bytesReclaimed: 0,
        manifests: [],
        blobs: [],
        truncated: false,
      };
      const progress = options.onProgress ?? (() => {});
      const tally = createTally(report);
      const lock = await takeLock(metadata, GC_LOCK, options);
      if (!lock) return { ...report, skipped: "another garbage collection is running" };

      try {
        const cutoff = started - options.graceMs;
        const dry: DryRunState | undefined = dryRun ? { links: new Set(), manifests: new Set(), touched: new Set() } : undefined;
        if (!dry) {
          for (const b of await finishDeleting(blobs, metadata)) tally.blob(b.digest, b.size);
          progress({ phase: "uploads", done: 0 });
          report.uploadsPurged = await uploads.purgeStale();
        }
        const repos = await listAll((page) => metadata.listRepositories(page), (r) => r);
        report.repositories = repos.length;
        for (const [i, repo] of repos.entries()) {
          if (options.signal?.aborted) break;
          await collectRepository(repo, { ...options, cutoff, keepUntagged: !deleteUntagged(repo) }, report, tally, dry);
          progress({ phase: "repositories", done: i + 1, total: repos.length });
        }
        if (dry) await dryRunBlobs(dry, tally, options.signal);
        else if (!options.signal?.aborted) {
          await sweepBlobs(blobs, metadata, options.signal, (deleted) => {
            for (const b of deleted) tally.blob(b.digest, b.size);
            progress({ phase: "blobs", done: report.blobsDeleted });
          });
        }
      } finally {
        await lock.release();
      }
      report.durationMs = Date.now() - started;
      if (options.signal?.aborted) report.aborted = true;
      return report;
    }, (r) => ({
      outcome: r.skipped ? "skipped" : r.dryRun ? "dry_run" : r.aborted ? "aborted" : "completed",
      // What went: the manifests by name (the first ITEM_LIMIT), the blobs as counts.
      detail: { ...gcSummary(r), manifests: r.manifests },
    })),
  };
}
