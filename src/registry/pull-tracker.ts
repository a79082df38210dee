import { PULL_RESOLUTION_MS, type RetentionStore } from "../storage/retention-store.js";

/**
 * Records when tags are pulled, for retention's `keepWithin`, without costing pulls anything: a
 * tag seen within PULL_RESOLUTION_MS is skipped in memory, and the write itself runs after the
 * response has been handed to the socket, its errors reported to the caller's callback.
 */
export interface PullTracker {
  /** Notes a pull of `tag` of `repo` now. Returns at once; `onError` hears of a failed write. */
  record(repo: string, tag: string, onError: (err: unknown) => void): void;
  /** Resolves once every write started so far has finished (for tests and shutdown). */
  settled(): Promise<void>;
}

/** Memory bound: past this many remembered tags the memory is forgotten (costing one cheap store check each). */
const REMEMBERED = 10_000;

export function createPullTracker(store: RetentionStore, clock: () => number = Date.now): PullTracker {
  const seen = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  return {
    record(repo, tag, onError) {
      const now = clock();
      const key = `${repo}\n${tag}`;
      const last = seen.get(key);
      if (last !== undefined && now - last < PULL_RESOLUTION_MS) return;
      if (seen.size >= REMEMBERED) seen.clear();
      seen.set(key, now);
      const write = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => store.touchTagPull(repo, tag, now))
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
