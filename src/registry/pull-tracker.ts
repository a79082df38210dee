import type { Digest } from "../oci/digest.js";
import { PULL_RESOLUTION_MS, type PullCount, type RetentionStore } from "../storage/retention-store.js";
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
 *
 * Pull counts (`tags.pull_count`, shown by the web UI) are exact: every counted pull adds one in
 * memory, and the sums are written together (RetentionStore.countPulls) at most PULL_COUNT_MS
 * later, or sooner when PULL_COUNT_KEYS references are waiting; a crash loses at most that
 * interval's counts. A pull by digest counts for every tag pointing at the manifest.
 */
export interface PullTracker {
  /**
   * Notes a pull of `manifest` from `repo` now. Returns at once; `onError` hears of a failed write.
   * `counted` (default true) adds it to the pull counts: the manifest handler counts GETs, not
   * HEADs, so a client that resolves a tag with HEAD and then GETs the digest counts once.
   */
  record(repo: string, by: PulledBy, manifest: EventTarget, onError: (err: unknown) => void, origin?: Origin, counted?: boolean): void;
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

/** Pull counts are written at most this long after the pull, or once this many references wait. */
const PULL_COUNT_MS = 1000;
const PULL_COUNT_KEYS = 1000;

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
  let counts = new Map<string, PullCount>();
  let countTimer: NodeJS.Timeout | undefined;
  let countError: (err: unknown) => void = () => {};
  let counting: Promise<void> | undefined;
  // One write at a time, like the events: counts arriving meanwhile wait for the next.
  const flushCounts = () => {
    clearTimeout(countTimer);
    countTimer = undefined;
    if (counting || counts.size === 0) return;
    const due = [...counts.values()];
    const report = countError;
    counts = new Map();
    counting = store.countPulls(due).then(
      () => {},
      (err: unknown) => report(err),
    ).finally(() => {
      counting = undefined;
      if (counts.size > 0) countTimer ??= setTimeout(flushCounts, PULL_COUNT_MS).unref();
    });
    track(counting);
  };
  const count = (repo: string, by: PulledBy, onError: (err: unknown) => void) => {
    const key = "tag" in by ? `${repo}\n${by.tag}` : `${repo}\n@${by.digest}`;
    const pending = counts.get(key);
    if (pending) pending.count += 1;
    else counts.set(key, { repo, count: 1, ...by });
    countError = onError;
    if (counts.size >= PULL_COUNT_KEYS) flushCounts();
    else countTimer ??= setTimeout(flushCounts, PULL_COUNT_MS).unref();
  };
  return {
    record(repo, by, manifest, onError, origin, counted = true) {
      if (counted) count(repo, by, onError);
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
      while (counting || counts.size > 0) {
        flushCounts();
        await counting;
      }
      await Promise.all([...inFlight]);
    },
  };
}
