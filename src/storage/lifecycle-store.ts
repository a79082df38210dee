import type { Digest } from "../oci/digest.js";
import type { Page } from "./page.js";
import type { EventRecord } from "./event-store.js";

/**
 * The part of the metadata store that garbage collection and the commit of new blobs agree
 * through (docs/architecture.md, "Garbage collection", states the protocol and why it is safe).
 *
 * A blob row is `live` or `deleting`. Something keeps a live blob alive when it has a link to a
 * repository, a manifest referencing it, or an upload session claiming it. A sweep may mark a blob
 * `deleting` only in a transaction that sees none of these; a claim or a link succeeds only in a
 * transaction that sees the blob absent or live. Whatever the interleaving, a blob is either kept
 * or its claimant is told to wait, never both.
 */
export interface LifecycleStore {
  /**
   * Claims `digest` for upload `uploadId` before its bytes are committed to the BlobStore: creates
   * the blob row (live) when absent and records the claim on the session, which keeps the blob from
   * any sweep until the session is deleted. Resolves false, writing nothing, while a sweep is
   * deleting that blob; the caller waits until the sweep has forgotten it, then claims again.
   */
  claimBlob(uploadId: string, digest: Digest, size: number): Promise<boolean>;
  /**
   * Links a live blob to `repo` (creating the repository on first use) and resolves its size;
   * resolves undefined, writing nothing, when no live blob has that digest. Idempotent. `events`
   * are recorded in the same transaction whenever it resolves a size (already linked included).
   */
  linkBlob(repo: string, digest: Digest, events?: readonly EventRecord[]): Promise<number | undefined>;

  /**
   * Takes the named lock when no live holder has it; resolves undefined otherwise. A holder that
   * dies (process killed, connection lost) loses the lock with it.
   */
  tryLock(name: string): Promise<StoreLock | undefined>;

  /** `repo`'s manifests with what they reference, for the mark phase, by digest. */
  listManifestNodes(repo: string, page: Page): Promise<ManifestNode[]>;
  /**
   * Deletes a manifest if, inside the transaction, it has no tag, no manifest of `repo` lists it,
   * its subject (if any) is not a manifest of `repo`, and it was stored before `createdBefore`;
   * `events` are recorded in the same transaction when it is deleted.
   */
  deleteManifestIfUnreachable(repo: string, digest: Digest, createdBefore: number, events?: readonly EventRecord[]): Promise<boolean>;
  /** Blobs linked to `repo`, with when the link was made, by digest. */
  listLinks(repo: string, page: Page): Promise<BlobLink[]>;
  /**
   * Removes `repo`'s links to those of `digests` that, inside one transaction, no manifest of `repo`
   * references and that were made before `createdBefore`; resolves the digests unlinked.
   *
   * When at least one was unlinked, `events` are recorded in the same transaction, except those
   * whose `target.digest` names a digest that was not unlinked: so a caller may pass one event per
   * digest and only the deletions that happened are recorded.
   */
  unlinkIfUnreferenced(
    repo: string,
    digests: readonly Digest[],
    createdBefore: number,
    events?: readonly EventRecord[],
  ): Promise<Digest[]>;

  /** Live blobs nothing keeps alive (no link, no reference, no claim), by digest. */
  listUnreferencedBlobs(page: Page): Promise<BlobRow[]>;
  /** Marks those of `digests` that are still unreferenced `deleting`, in one transaction; resolves the marked ones. */
  markBlobsDeleting(digests: readonly Digest[]): Promise<BlobRow[]>;
  /** Blobs marked `deleting` (by this sweep, or by one that died), at most `limit`. */
  listDeletingBlobs(limit: number): Promise<BlobRow[]>;
  /** Removes the rows of `deleting` blobs whose bytes are gone; live rows are left alone. */
  forgetBlobs(digests: readonly Digest[]): Promise<void>;
  /**
   * Who keeps each of `digests` alive, with its size, read in one snapshot (for a dry run, which
   * deletes nothing and so must reason about it). Only live blobs are in the map: a digest with no
   * row, or one being deleted, is absent. A few queries per call whatever its length; the GC asks
   * in pages of 1000.
   */
  blobUsers(digests: readonly Digest[]): Promise<Map<Digest, BlobUsers>>;
}

export interface StoreLock {
  release(): Promise<void>;
}

export interface ManifestNode {
  digest: Digest;
  subject?: Digest;
  createdAt: number;
  /** Whether at least one tag points at it. */
  tagged: boolean;
  blobs: Digest[];
  children: Digest[];
}

export interface BlobLink {
  digest: Digest;
  size: number;
  createdAt: number;
}

export interface BlobRow {
  digest: Digest;
  size: number;
}

export interface BlobUsers {
  size: number;
  /** Repositories linking the blob, with when each link was made, by repository name. */
  links: { repository: string; createdAt: number }[];
  /** Manifests referencing the blob, by repository name then manifest digest. */
  references: { repository: string; manifest: Digest }[];
  claimed: boolean;
}
