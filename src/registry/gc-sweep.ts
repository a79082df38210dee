import type { Digest } from "../oci/digest.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { BlobRow } from "../storage/lifecycle-store.js";
import type { MetadataStore } from "../storage/metadata-store.js";

/** The lock one sweep at a time holds, across processes and nodes sharing the metadata store. */
export const GC_LOCK = "gc";

const BATCH = 500;

/** Deletes the bytes of blobs already marked `deleting`, then forgets their rows. Caller holds GC_LOCK. */
export async function deleteMarked(blobs: BlobStore, metadata: MetadataStore, marked: readonly BlobRow[]): Promise<void> {
  await blobs.deleteMany(marked.map((b) => b.digest));
  await metadata.forgetBlobs(marked.map((b) => b.digest));
}

/** Finishes deletions a sweep marked but did not complete (it was killed). Caller holds GC_LOCK. */
export async function finishDeleting(blobs: BlobStore, metadata: MetadataStore): Promise<BlobRow[]> {
  const finished: BlobRow[] = [];
  for (;;) {
    const pending = await metadata.listDeletingBlobs(BATCH);
    if (pending.length === 0) return finished;
    await deleteMarked(blobs, metadata, pending);
    finished.push(...pending);
  }
}

/**
 * For an upload waiting on a `deleting` blob: when no sweep holds the lock, the deletion was
 * abandoned, so finish it under the lock. Resolves true when it did (claim again at once), false
 * when a sweep is running (wait for it).
 */
export async function finishAbandonedDeletes(blobs: BlobStore, metadata: MetadataStore): Promise<boolean> {
  const lock = await metadata.tryLock(GC_LOCK);
  if (!lock) return false;
  try {
    await finishDeleting(blobs, metadata);
    return true;
  } finally {
    await lock.release();
  }
}

export interface SweepProgress {
  blobs: number;
  bytes: number;
}

/**
 * Deletes every live blob nothing keeps alive, a batch at a time: mark (the store re-checks each
 * blob inside its transaction), delete the bytes, forget the rows. Caller holds GC_LOCK.
 */
export async function sweepBlobs(
  blobs: BlobStore,
  metadata: MetadataStore,
  signal: AbortSignal | undefined,
  onBatch: (deleted: readonly BlobRow[], progress: SweepProgress) => void,
): Promise<SweepProgress> {
  const progress = { blobs: 0, bytes: 0 };
  let last: Digest | undefined;
  for (;;) {
    const candidates = await metadata.listUnreferencedBlobs({ ...(last ? { last } : {}), limit: BATCH });
    if (candidates.length === 0) return progress;
    last = candidates[candidates.length - 1]!.digest;
    const marked = await metadata.markBlobsDeleting(candidates.map((c) => c.digest));
    await deleteMarked(blobs, metadata, marked);
    for (const b of marked) {
      progress.blobs++;
      progress.bytes += b.size;
    }
    onBatch(marked, progress);
    if (candidates.length < BATCH || signal?.aborted) return progress;
  }
}
