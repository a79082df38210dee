import type { Digest } from "../oci/digest.js";
import { PULL_RESOLUTION_MS, type RetentionStore } from "../storage/retention-store.js";

/** What a manifest was pulled by: a tag, or a digest (which credits every tag pointing at it). */
export type PulledBy = { tag: string } | { digest: Digest };

/**
 * Records when tags are pulled, for retention's `keepWithin`, without costing pulls anything: a
 * reference seen within PULL_RESOLUTION_MS is skipped in memory, and the write itself runs after
 * the response has been handed to the socket, its errors reported to the caller's callback.
 */
export interface PullTracker {
  /** Notes a pull from `repo` now. Returns at once; `onError` hears of a failed write. */
  record(repo: string, by: PulledBy, onError: (err: unknown) => void): void;
  /** Resolves once every write started so far has finished (for tests and shutdown). */
  settled(): Promise<void>;
}

/** Memory bound: past this many remembered tags the memory is forgotten (costing one cheap store check each). */
const REMEMBERED = 10_000;

export function createPullTracker(store: RetentionStore, clock: () => number = Date.now): PullTracker {
  const seen = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  return {
    record(repo, by, onError) {
      const now = clock();
      const key = "tag" in by ? `${repo}\n${by.tag}` : `${repo}\n@${by.digest}`;
      const last = seen.get(key);
      if (last !== undefined && now - last < PULL_RESOLUTION_MS) return;
      if (seen.size >= REMEMBERED) seen.clear();
      seen.set(key, now);
      const write = new Promise<void>((resolve) => setImmediate(resolve))
        .then(async () => {
          if ("tag" in by) await store.touchTagPull(repo, by.tag, now);
          else await store.touchDigestPull(repo, by.digest, now);
        })
        .then(
          () => {},
          (err: unknown) => {
            seen.delete(key);
            onError(err);
          },
        );
      inFlight.add(write);
      void write.finally(() => inFlight.delete(write));
    },
    async settled() {
      await Promise.all([...inFlight]);
    },
  };
}
