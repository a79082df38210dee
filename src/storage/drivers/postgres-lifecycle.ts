import type pg from "pg";
import type { Digest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import type { BlobRow, BlobUsers, LifecycleStore, ManifestNode } from "../lifecycle-store.js";
import { ensureRepository, transaction } from "./postgres-tx.js";
import { eventsForUnlinked } from "./event-rows.js";
import { insertEvents } from "./postgres-events.js";

/** Keeps a live blob alive: a link, a manifest reference or an upload's claim (`b` is the blobs row). */
const KEPT = `(EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)
  OR EXISTS (SELECT 1 FROM manifest_references r WHERE r.kind = 'blob' AND r.digest = b.digest)
  OR EXISTS (SELECT 1 FROM uploads u WHERE u.claim = b.digest))`;
const REPO_ID = "(SELECT id FROM repositories WHERE name = $1)";

/**
 * The LifecycleStore half of the PostgreSQL metadata store, for several nodes at once. READ
 * COMMITTED with row locks: a claim or link takes the blob row FOR SHARE, a sweep FOR UPDATE and
 * only then, in a new statement (a new snapshot), checks what keeps the blob; so whichever commits
 * first, the other sees it. The same pattern guards manifests and links against putManifest,
 * which holds the rows it references FOR SHARE.
 */
export function createPostgresLifecycle(pool: pg.Pool): LifecycleStore {
  const exists = async (client: pg.PoolClient, text: string, values: unknown[]) =>
    ((await client.query(text, values)).rowCount ?? 0) > 0;

  return {
    async claimBlob(uploadId, digest, size) {
      return transaction(pool, async (client) => {
        await client.query("INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", [
          digest,
          size,
          Date.now(),
        ]);
        const { rows } = await client.query<{ state: string }>("SELECT state FROM blobs WHERE digest = $1 FOR SHARE", [digest]);
        if (rows[0]?.state !== "live") return false;
        if (!(await exists(client, "UPDATE uploads SET claim = $1 WHERE id = $2", [digest, uploadId]))) {
          throw new RegistryError("BLOB_UPLOAD_UNKNOWN", "upload session vanished before commit", { id: uploadId });
        }
        return true;
      });
    },

    async linkBlob(repo, digest, events) {
      return transaction(pool, async (client) => {
        // The repository first, as in putManifest: every transaction takes its locks in the same order.
        const repoId = await ensureRepository(client, repo);
        const { rows } = await client.query<{ size: number; state: string }>(
          "SELECT size, state FROM blobs WHERE digest = $1 FOR SHARE",
          [digest],
        );
        if (rows[0]?.state !== "live") return undefined;
        await client.query(
          "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
          [repoId, digest, Date.now()],
        );
        await insertEvents(client, events);
        return rows[0].size;
      });
    },

    async tryLock(name) {
      // A session advisory lock on a connection kept out of the pool: if the process or the
      // connection dies, PostgreSQL releases the lock with the session.
      const client = await pool.connect();
      const key = `berth:${name}`;
      try {
        const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok", [key]);
        if (!rows[0]?.ok) {
          client.release();
          return undefined;
        }
      } catch (err) {
        client.release(err as Error);
        throw err;
      }
      return {
        async release() {
          try {
            await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key]);
            client.release();
          } catch (err) {
            client.release(err as Error);
          }
        },
      };
    },

    async listManifestNodes(repo, page) {
      const { rows } = await pool.query<{
        digest: Digest;
        subject: Digest | null;
        created_at: number;
        tagged: boolean;
        blobs: Digest[];
        children: Digest[];
      }>(
        `SELECT m.digest, m.subject, m.created_at,
           EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest) AS tagged,
           ARRAY(SELECT r.digest FROM manifest_references r WHERE r.repository_id = m.repository_id
                 AND r.manifest_digest = m.digest AND r.kind = 'blob') AS blobs,
           ARRAY(SELECT r.digest FROM manifest_references r WHERE r.repository_id = m.repository_id
                 AND r.manifest_digest = m.digest AND r.kind = 'manifest') AS children
         FROM manifests m WHERE m.repository_id = ${REPO_ID} AND m.digest > $2 ORDER BY m.digest LIMIT $3`,
        [repo, page.last ?? "", page.limit],
      );
      return rows.map(
        (r): ManifestNode => ({
          digest: r.digest,
          ...(r.subject !== null ? { subject: r.subject } : {}),
          createdAt: r.created_at,
          tagged: r.tagged,
          blobs: r.blobs,
          children: r.children,
        }),
      );
    },

    async deleteManifestIfUnreachable(repo, digest, createdBefore, events) {
      return transaction(pool, async (client) => {
        const { rows } = await client.query<{ repository_id: number; created_at: number; subject: string | null }>(
          `SELECT repository_id, created_at, subject FROM manifests WHERE repository_id = ${REPO_ID} AND digest = $2 FOR UPDATE`,
          [repo, digest],
        );
        const m = rows[0];
        if (!m || m.created_at >= createdBefore) return false;
        const id = m.repository_id;
        if (await exists(client, "SELECT 1 FROM tags WHERE repository_id = $1 AND digest = $2", [id, digest])) return false;
        if (
          await exists(
            client,
            "SELECT 1 FROM manifest_references WHERE repository_id = $1 AND kind = 'manifest' AND digest = $2",
            [id, digest],
          )
        ) {
          return false;
        }
        if (m.subject !== null && (await exists(client, "SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = $2", [id, m.subject]))) {
          return false;
        }
        if (!(await exists(client, "DELETE FROM manifests WHERE repository_id = $1 AND digest = $2", [id, digest]))) return false;
        if (events) await insertEvents(client, events);
        return true;
      });
    },

    async listLinks(repo, page) {
      const { rows } = await pool.query<{ digest: Digest; size: number; created_at: number }>(
        `SELECT rb.digest, b.size, rb.created_at FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
         WHERE rb.repository_id = ${REPO_ID} AND rb.digest > $2 ORDER BY rb.digest LIMIT $3`,
        [repo, page.last ?? "", page.limit],
      );
      return rows.map((r) => ({ digest: r.digest, size: r.size, createdAt: r.created_at }));
    },

    async unlinkIfUnreferenced(repo, digests, createdBefore, events) {
      if (digests.length === 0) return [];
      return transaction(pool, async (client) => {
        // Lock the links first (putManifest holds the ones it relies on FOR SHARE), in digest order,
        // then check references in a new statement, which sees whatever those pushes committed.
        const locked = await client.query<{ repository_id: number; digest: string }>(
          `SELECT repository_id, digest FROM repository_blobs WHERE repository_id = ${REPO_ID}
           AND digest = ANY($2::text[]) AND created_at < $3 ORDER BY digest FOR UPDATE`,
          [repo, digests, createdBefore],
        );
        if (locked.rows.length === 0) return [];
        const { rows } = await client.query<{ digest: Digest }>(
          `DELETE FROM repository_blobs rb WHERE rb.repository_id = $1 AND rb.digest = ANY($2::text[])
           AND NOT EXISTS (SELECT 1 FROM manifest_references r
                           WHERE r.repository_id = rb.repository_id AND r.kind = 'blob' AND r.digest = rb.digest)
           RETURNING rb.digest`,
          [locked.rows[0]!.repository_id, locked.rows.map((r) => r.digest)],
        );
        const unlinked = rows.map((r) => r.digest);
        if (unlinked.length > 0 && events) await insertEvents(client, eventsForUnlinked(events, unlinked));
        return unlinked;
      });
    },

    async listUnreferencedBlobs(page) {
      const { rows } = await pool.query<BlobRow>(
        `SELECT b.digest, b.size FROM blobs b WHERE b.digest > $1 AND b.state = 'live' AND NOT ${KEPT}
         ORDER BY b.digest LIMIT $2`,
        [page.last ?? "", page.limit],
      );
      return rows;
    },

    async markBlobsDeleting(digests) {
      if (digests.length === 0) return [];
      return transaction(pool, async (client) => {
        // Lock first, in digest order (no deadlock between two sweeps), then check in a new statement.
        const locked = await client.query<{ digest: string }>(
          "SELECT digest FROM blobs WHERE digest = ANY($1::text[]) AND state = 'live' ORDER BY digest FOR UPDATE",
          [digests],
        );
        if (locked.rows.length === 0) return [];
        const { rows } = await client.query<BlobRow>(
          `UPDATE blobs b SET state = 'deleting' WHERE b.digest = ANY($1::text[]) AND b.state = 'live' AND NOT ${KEPT}
           RETURNING b.digest, b.size`,
          [locked.rows.map((r) => r.digest)],
        );
        return rows;
      });
    },

    async listDeletingBlobs(limit) {
      const { rows } = await pool.query<BlobRow>(
        "SELECT digest, size FROM blobs WHERE state = 'deleting' ORDER BY digest LIMIT $1",
        [limit],
      );
      return rows;
    },

    async forgetBlobs(digests) {
      if (digests.length === 0) return;
      await pool.query("DELETE FROM blobs WHERE digest = ANY($1::text[]) AND state = 'deleting'", [digests]);
    },

    async blobUsers(digests) {
      const users = new Map<Digest, BlobUsers>();
      if (digests.length === 0) return users;
      // One statement, so one snapshot; the JSON keeps BIGINT created_at a number.
      const { rows } = await pool.query<Omit<BlobUsers, "references"> & { digest: Digest; refs: BlobUsers["references"] }>(
        `SELECT b.digest, b.size,
           COALESCE((SELECT json_agg(json_build_object('repository', r.name, 'createdAt', rb.created_at) ORDER BY r.name)
                     FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
                     WHERE rb.digest = b.digest), '[]') AS links,
           COALESCE((SELECT json_agg(json_build_object('repository', r.name, 'manifest', mr.manifest_digest)
                                     ORDER BY r.name, mr.manifest_digest)
                     FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
                     WHERE mr.kind = 'blob' AND mr.digest = b.digest), '[]') AS refs,
           EXISTS (SELECT 1 FROM uploads u WHERE u.claim = b.digest) AS claimed
         FROM blobs b WHERE b.digest = ANY($1::text[]) AND b.state = 'live'`,
        [digests],
      );
      for (const r of rows) users.set(r.digest, { size: r.size, links: r.links, references: r.refs, claimed: r.claimed });
      return users;
    },
  };
}
