import type { Digest } from "../oci/digest.js";
import type { Page } from "./page.js";
import type { EventRecord } from "./event-store.js";

/** Pulls closer together than this are recorded once: `pulled_at` is a "still in use" signal, not a counter. */
export const PULL_RESOLUTION_MS = 60 * 60 * 1000;

/**
 * The part of the metadata store that retention policies work through: what each tag points at,
 * when it was pushed and last pulled, and a delete that cannot take a tag a concurrent push moved.
 */
export interface RetentionStore {
  /** `repo`'s tags with their manifest, push and last pull times, by tag name (byte-wise). */
  listTagsForRetention(repo: string, page: Page): Promise<TagActivity[]>;
  /**
   * Records a pull of `tag` at `now` (epoch ms), unless the stored pull time is already at or after
   * `now - PULL_RESOLUTION_MS`: pulls are frequent, so within that window nothing is written, and a
   * stored time never moves backwards. A tag that does not exist is ignored. Resolves whether it wrote.
   */
  touchTagPull(repo: string, tag: string, now: number): Promise<boolean>;
  /**
   * Records a pull by digest at `now` on every tag of `repo` that points at `digest` (a deployment
   * pinned by digest still uses its tags), under the same window and never-backwards rule as
   * touchTagPull. Resolves how many tags it wrote.
   */
  touchDigestPull(repo: string, digest: Digest, now: number): Promise<number>;
  /**
   * Deletes `tag` only if it still points at `digest`, in one statement: a tag a concurrent push
   * moved to another manifest (or re-created) after retention listed it is left alone. The manifest
   * stays. Resolves whether the tag was deleted; `events` are recorded in the same transaction when it was.
   */
  deleteTagIf(repo: string, tag: string, digest: Digest, events?: readonly EventRecord[]): Promise<boolean>;
  /**
   * Adds counted pulls to tags' pull counts, all entries in one transaction: an entry by `tag` adds
   * `count` to that tag of `repo`; one by `digest` adds it to every tag of `repo` pointing at that
   * manifest (as touchDigestPull credits them). Tags that do not exist (any more) are skipped. Pull
   * times are not touched, and pull counts never move push times. Counts stay with a tag when it is
   * moved to another manifest and go when it is deleted.
   */
  countPulls(pulls: readonly PullCount[]): Promise<void>;
}

/** Pulls of one reference to add (RetentionStore.countPulls). */
export type PullCount = { repo: string; count: number } & ({ tag: string } | { digest: Digest });

export interface TagActivity {
  tag: string;
  digest: Digest;
  /** When the tag was last pointed at its current manifest (a re-push of the same manifest does not move it). */
  pushedAt: number;
  /** The last recorded pull by this tag, to PULL_RESOLUTION_MS; undefined when never pulled (or before tracking). */
  pulledAt?: number;
}
