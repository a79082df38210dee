import { randomUUID } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { createDigester, digestAlgorithm, digestOf, formatDigest, type Digest } from "../oci/digest.js";
import { parseManifest } from "../oci/manifest.js";
import type { AuthStore } from "../storage/auth-store.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { MetadataStore } from "../storage/metadata-store.js";
import { hashingStream } from "./hash-cache.js";
import { manifestRecord } from "./manifests.js";
import { migrateAccessControl, type AccessControlReport } from "./migrate-auth.js";
import { eachItem } from "./paging.js";

export interface Stores {
  blobStore: BlobStore;
  metadataStore: MetadataStore;
  /** Access control; a source without it has none to copy, a target needs it when the source has it. */
  authStore?: AuthStore;
}

export interface MigrationProgress {
  repositories: number;
  repositoriesDone: number;
  /** Bytes of every blob link to go through (a blob shared by two repositories counts twice). */
  bytesTotal: number;
  bytesDone: number;
  blobsCopied: number;
  /** Blobs the target already held (an earlier, interrupted run copied them, or another repository did). */
  blobsPresent: number;
  manifests: number;
  tags: number;
}

export interface MigrationReport extends MigrationProgress {
  /** Problems in the source that were skipped over, e.g. a linked blob whose bytes are missing. */
  problems: string[];
  /** What became of access control (see migrateAccessControl); absent when the source has none. */
  accessControl?: AccessControlReport;
}

const PAGE = 500;


/**
 * Copies access control (when the source has it: migrate-auth.ts), then every repository (empty
 * ones too), blob, manifest and tag from `source` to `target`, verifying each blob and manifest
 * against its digest on the way. Every step is idempotent and skips what the target already has,
 * so an interrupted migration resumes by running it again. Bytes are streamed, never held whole.
 * The source is only read.
 *
 * The event outbox and webhook deliveries (EventStore) are not copied: they are a record of what
 * happened on the source and of what the source delivered, not registry content. The copy itself
 * records no events (it passes none to the target's store), so the target's webhook endpoints
 * start after its newest event and never replay the migration as a burst of pushes.
 */
export async function migrateRegistry(
  source: Stores,
  target: Stores,
  onProgress: (progress: MigrationProgress) => void = () => {},
  options: {
    /**
     * Pull-through cache repositories (`docker.io/…`): their manifests are copied without the
     * layers and platforms never pulled, as the cache stored them (see `lazyReferences`).
     */
    isCacheRepository?: (repo: string) => boolean;
  } = {},
): Promise<MigrationReport> {
  const report: MigrationReport = {
    repositories: 0,
    repositoriesDone: 0,
    bytesTotal: 0,
    bytesDone: 0,
    blobsCopied: 0,
    blobsPresent: 0,
    manifests: 0,
    tags: 0,
    problems: [],
  };
  if (source.authStore) {
    if (!target.authStore) throw new Error("the source has access control data: the target needs an auth store");
    report.accessControl = await migrateAccessControl(source.authStore, target.authStore, report.problems);
  }
  const repositories = () => eachItem((page) => source.metadataStore.listRepositories(page), (r) => r, PAGE);
  const links = (repo: string) =>
    eachItem((page) => source.metadataStore.listBlobLinks(repo, page), (l) => l.digest, PAGE);

  for await (const repo of repositories()) {
    report.repositories++;
    for await (const link of links(repo)) report.bytesTotal += link.size;
  }
  onProgress(report);

  /** Copies a blob unless the target holds it, and links it to `repo`, under a claim like an upload's. */
  async function copyBlob(repo: string, digest: Digest, size: number): Promise<void> {
    const id = `migrate-${randomUUID()}`;
    const now = Date.now();
    // A session keeps a running server's upload purge away from the staged bytes, and carries the claim.
    await target.metadataStore.createUpload({ id, repository: "_migrate", algorithm: digestAlgorithm(digest), createdAt: now, updatedAt: now });
    try {
      // Claimed first: from here no sweep on the target can delete these bytes, present or copied.
      for (let attempt = 0; !(await target.metadataStore.claimBlob(id, digest, size)); attempt++) {
        if (attempt >= 600) throw new Error(`blob ${digest} is being deleted by garbage collection on the target`);
        await new Promise((r) => setTimeout(r, 100));
      }
      if (await target.blobStore.stat(digest)) report.blobsPresent++;
      else {
        const hash = createDigester(digestAlgorithm(digest));
        const hashing = hashingStream(hash);
        const feeding = pipeline(await source.blobStore.read(digest), hashing);
        await Promise.all([target.blobStore.appendUpload(id, 0, hashing), feeding]);
        const actual = formatDigest(digestAlgorithm(digest), hash.digest("hex"));
        if (actual !== digest) throw new Error(`source blob ${digest} does not match its digest (read ${actual})`);
        await target.blobStore.commitUpload(id, digest);
        report.blobsCopied++;
      }
      if ((await target.metadataStore.linkBlob(repo, digest)) === undefined) throw new Error(`blob ${digest} vanished while claimed`);
    } finally {
      await target.blobStore.deleteUpload(id);
      await target.metadataStore.deleteUpload(id);
    }
  }

  async function copyManifests(repo: string): Promise<void> {
    const lazy = options.isCacheRepository?.(repo) ?? false;
    let pending: Digest[] = [];
    for await (const m of eachItem((page) => source.metadataStore.listManifests(repo, page), (m) => m.digest, PAGE)) {
      if (!(await target.metadataStore.getManifest(repo, m.digest))) pending.push(m.digest);
    }
    // Children before the indexes that list them: retry what waits on a child until nothing moves.
    while (pending.length > 0) {
      const waiting: Digest[] = [];
      for (const digest of pending) {
        const stored = (await source.metadataStore.getManifest(repo, digest))!;
        if (digestOf(stored.content, digestAlgorithm(digest)) !== digest) {
          report.problems.push(`${repo}@${digest}: manifest bytes do not match the digest; skipped`);
          continue;
        }
        const record = manifestRecord(digest, stored.content, parseManifest(stored.content, stored.mediaType));
        const result = await target.metadataStore.putManifest(repo, record, [], lazy ? { lazyReferences: true } : {});
        if (result.ok) report.manifests++;
        else if ("missingManifest" in result) waiting.push(digest);
        else if ("missingBlob" in result) report.problems.push(`${repo}@${digest}: references blob ${result.missingBlob}, absent from the source repository; skipped`);
      }
      if (waiting.length === pending.length) {
        for (const d of waiting) report.problems.push(`${repo}@${d}: lists a manifest absent from the source repository; skipped`);
        break;
      }
      pending = waiting;
    }
  }

  async function copyTags(repo: string): Promise<void> {
    for await (const { tag, digest } of eachItem((page) => source.metadataStore.listTagDigests(repo, page), (t) => t.tag, PAGE)) {
      const stored = await target.metadataStore.getManifest(repo, digest);
      if (!stored) continue;
      const record = manifestRecord(digest, stored.content, parseManifest(stored.content, stored.mediaType));
      if ((await target.metadataStore.putManifest(repo, record, [tag], options.isCacheRepository?.(repo) ? { lazyReferences: true } : {})).ok) report.tags++;
    }
  }

  for await (const repo of repositories()) {
    await target.metadataStore.createRepository(repo);
    for await (const link of links(repo)) {
      try {
        await copyBlob(repo, link.digest, link.size);
      } catch (err) {
        report.problems.push(`${repo}@${link.digest}: ${(err as Error).message}`);
      }
      report.bytesDone += link.size;
      onProgress(report);
    }
    await copyManifests(repo);
    await copyTags(repo);
    report.repositoriesDone++;
    onProgress(report);
  }
  return report;
}
