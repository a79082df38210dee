import type Database from "better-sqlite3";
import type { Digest } from "../../oci/digest.js";
import { PULL_RESOLUTION_MS, type PullCount, type RetentionStore } from "../retention-store.js";
import type { EventRecord } from "../event-store.js";
import type { RecordEvents } from "./sqlite-events.js";

/** The RetentionStore half of the SQLite metadata store. */
export function createSqliteRetention(db: Database.Database, recordEvents: RecordEvents): RetentionStore {
  const REPO = "(SELECT id FROM repositories WHERE name = ?)";
  const q = {
    list: db.prepare<[string, string, number], { name: string; digest: string; updated_at: number; pulled_at: number | null }>(
      `SELECT name, digest, updated_at, pulled_at FROM tags WHERE repository_id = ${REPO} AND name > ? ORDER BY name LIMIT ?`,
    ),
    pulledAt: db.prepare<[string, string], { pulled_at: number | null }>(
      `SELECT pulled_at FROM tags WHERE repository_id = ${REPO} AND name = ?`,
    ),
    touch: db.prepare(
      `UPDATE tags SET pulled_at = ? WHERE repository_id = ${REPO} AND name = ? AND (pulled_at IS NULL OR pulled_at < ?)`,
    ),
    digestStale: db.prepare<[string, string, number], { one: number }>(
      `SELECT 1 AS one FROM tags WHERE repository_id = ${REPO} AND digest = ? AND (pulled_at IS NULL OR pulled_at < ?) LIMIT 1`,
    ),
    touchDigest: db.prepare(
      `UPDATE tags SET pulled_at = ? WHERE repository_id = ${REPO} AND digest = ? AND (pulled_at IS NULL OR pulled_at < ?)`,
    ),
    deleteIf: db.prepare(`DELETE FROM tags WHERE repository_id = ${REPO} AND name = ? AND digest = ?`),
    countTag: db.prepare(`UPDATE tags SET pull_count = pull_count + ? WHERE repository_id = ${REPO} AND name = ?`),
    countDigest: db.prepare(`UPDATE tags SET pull_count = pull_count + ? WHERE repository_id = ${REPO} AND digest = ?`),
  };
  const countPulls = db.transaction((pulls: readonly PullCount[]) => {
    for (const p of pulls) {
      if ("tag" in p) q.countTag.run(p.count, p.repo, p.tag);
      else q.countDigest.run(p.count, p.repo, p.digest);
    }
  });

  const deleteIf = db.transaction((repo: string, tag: string, digest: string, events?: readonly EventRecord[]): boolean => {
    if (q.deleteIf.run(repo, tag, digest).changes === 0) return false;
    recordEvents(events);
    return true;
  });

  return {
    async listTagsForRetention(repo, page) {
      return q.list.all(repo, page.last ?? "", page.limit).map((r) => ({
        tag: r.name,
        digest: r.digest as Digest,
        pushedAt: r.updated_at,
        ...(r.pulled_at !== null ? { pulledAt: r.pulled_at } : {}),
      }));
    },
    async touchTagPull(repo, tag, now) {
      const threshold = now - PULL_RESOLUTION_MS;
      // Read first: a pull is a read, and a fresh stamp (the common case) must not take SQLite's one write lock.
      const row = q.pulledAt.get(repo, tag);
      if (!row || (row.pulled_at !== null && row.pulled_at >= threshold)) return false;
      return q.touch.run(now, repo, tag, threshold).changes > 0;
    },
    async touchDigestPull(repo, digest, now) {
      const threshold = now - PULL_RESOLUTION_MS;
      if (!q.digestStale.get(repo, digest, threshold)) return 0;
      return q.touchDigest.run(now, repo, digest, threshold).changes;
    },
    async deleteTagIf(repo, tag, digest, events) {
      return deleteIf.immediate(repo, tag, digest, events);
    },
    async countPulls(pulls) {
      if (pulls.length > 0) countPulls.immediate(pulls);
    },
  };
}
