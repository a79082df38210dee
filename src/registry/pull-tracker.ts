import type { Digest } from "../oci/digest.js";
import { PULL_RESOLUTION_MS, type RetentionStore } from "../storage/retention-store.js";
import type { EventTarget } from "../storage/event-store.js";
import type { DomainEvent, EventLog, Origin } from "./events.js";

/** What a manifest was pulled by: a tag, or a digest (which credits every tag pointing at it). */
export type PulledBy = { tag: string } | { digest: Digest };

/**
 * Records when tags are pulled, for retention's `keepWithin`, without costing pulls anything: a
 * reference seen within PULL_RESOLUTION_MS is skipped in memory, and the write itself runs after
 * the response has been handed to the socket, its errors reported to the caller's callback.
 *
 * When some webhook endpoint wants pulls, each pull is also a `manifest.pulled` event: built at
 * once (so it carries the request's origin), recorded in batches after the responses went out.
 */
export interface PullTracker {
  /** Notes a pull of `manifest` from `repo` now. Returns at once; `onError` hears of a failed write. */
  record(repo: string, by: PulledBy, manifest: EventTarget, onError: (err: unknown) => void, origin?: Origin): void;
  /** Resolves once every write started so far has finished (for tests and shutdown). */
  settled(): Promise<void>;
}

/** Memory bound: past this many remembered tags the memory is forgotten (costing one cheap store check each). */
const REMEMBERED = 10_000;

/** Pull events wait at most this long, or for this many more, before they are recorded together. */
const PULL_BATCH_MS = 200;
const PULL_BATCH_SIZE = 500;
/**
 * Pull events waiting while a batch is being written, at most: past this (the database slower than
 * the pulls for a long while) further pull events are dropped, never the pulls themselves.
 */
const PULL_BACKLOG = 20 * PULL_BATCH_SIZE;

export function createPullTracker(store: RetentionStore, events: EventLog, clock: () => number = Date.now): PullTracker {
  const seen = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };
  let batch: DomainEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  // One batch written at a time; what arrives meanwhile waits for the next.
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (writing || batch.length === 0) return;
    const due = batch;
    batch = [];
    writing = events.emit(due).finally(() => {
      writing = undefined;
      if (batch.length > 0) flush();
    });
    track(writing);
  };
  return {
    record(repo, by, manifest, onError, origin) {
      if (events.wants("pull")) {
        if (batch.length < PULL_BACKLOG) batch.push(events.event("manifest.pulled", { repository: repo, target: { ...manifest, ...("tag" in by ? { tag: by.tag } : {}) } }, origin));
        if (batch.length >= PULL_BATCH_SIZE) flush();
        else timer ??= setTimeout(flush, PULL_BATCH_MS);
      }
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
      track(write);
    },
    async settled() {
      while (writing || batch.length > 0) {
        flush();
        await writing;
      }
      await Promise.all([...inFlight]);
    },
  };
}
