import type pg from "pg";
import type { Digest } from "../../oci/digest.js";
import { PULL_RESOLUTION_MS, type RetentionStore } from "../retention-store.js";
import { changeWithEvents } from "./postgres-events.js";
import { transaction } from "./postgres-tx.js";

const REPO_ID = "(SELECT id FROM repositories WHERE name = $1)";

/**
 * The RetentionStore half of the PostgreSQL metadata store. Each method is one statement: the
 * conditional UPDATE and DELETE re-check their condition on the row they lock, so a concurrent
 * push that moved a tag wins over a retention delete that listed it earlier.
 */
export function createPostgresRetention(pool: pg.Pool): RetentionStore {
  return {
    async listTagsForRetention(repo, page) {
      const { rows } = await pool.query<{ name: string; digest: string; updated_at: string; pulled_at: string | null }>(
        `SELECT name, digest, updated_at, pulled_at FROM tags
         WHERE repository_id = ${REPO_ID} AND name > $2 ORDER BY name LIMIT $3`,
        [repo, page.last ?? "", page.limit],
      );
      return rows.map((r) => ({
        tag: r.name,
        digest: r.digest as Digest,
        pushedAt: Number(r.updated_at),
        ...(r.pulled_at !== null ? { pulledAt: Number(r.pulled_at) } : {}),
      }));
    },
    async touchTagPull(repo, tag, now) {
      const { rowCount } = await pool.query(
        `UPDATE tags SET pulled_at = $3 WHERE repository_id = ${REPO_ID} AND name = $2
         AND (pulled_at IS NULL OR pulled_at < $4)`,
        [repo, tag, now, now - PULL_RESOLUTION_MS],
      );
      return (rowCount ?? 0) > 0;
    },
    async touchDigestPull(repo, digest, now) {
      const { rowCount } = await pool.query(
        `UPDATE tags SET pulled_at = $3 WHERE repository_id = ${REPO_ID} AND digest = $2
         AND (pulled_at IS NULL OR pulled_at < $4)`,
        [repo, digest, now, now - PULL_RESOLUTION_MS],
      );
      return rowCount ?? 0;
    },
    async deleteTagIf(repo, tag, digest, events) {
      return changeWithEvents(pool, events, `DELETE FROM tags WHERE repository_id = ${REPO_ID} AND name = $2 AND digest = $3`, [
        repo,
        tag,
        digest,
      ]);
    },
    async countPulls(pulls) {
      if (pulls.length === 0) return;
      const args = [pulls.map((p) => p.repo), pulls.map((p) => ("tag" in p ? p.tag : null)), pulls.map((p) => ("digest" in p ? p.digest : null)), pulls.map((p) => p.count)];
      // Summed per tag first (a tag may be credited by name and by digest in one batch), then locked
      // in one order, so two nodes flushing at once wait for each other instead of deadlocking.
      const credit = `WITH p AS (
          SELECT r.id AS rid, x.tag, x.digest, x.n FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS x(repo, tag, digest, n)
          JOIN repositories r ON r.name = x.repo),
        c AS (SELECT t.repository_id, t.name, SUM(t.n) AS n FROM (
            SELECT t.repository_id, t.name, p.n FROM tags t JOIN p ON t.repository_id = p.rid AND t.name = p.tag
            UNION ALL SELECT t.repository_id, t.name, p.n FROM tags t JOIN p ON p.tag IS NULL AND t.repository_id = p.rid AND t.digest = p.digest
          ) t GROUP BY t.repository_id, t.name)`;
      await transaction(pool, async (client) => {
        await client.query(`${credit} SELECT 1 FROM tags t JOIN c ON t.repository_id = c.repository_id AND t.name = c.name
          ORDER BY t.repository_id, t.name FOR UPDATE OF t`, args);
        await client.query(`${credit} UPDATE tags t SET pull_count = t.pull_count + c.n FROM c
          WHERE t.repository_id = c.repository_id AND t.name = c.name`, args);
      });
    },
  };
}
