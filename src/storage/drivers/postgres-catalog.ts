import type pg from "pg";
import type { MetadataStore, RepositorySummary } from "../metadata-store.js";
import { transaction } from "./postgres-tx.js";
import { insertEvents } from "./postgres-events.js";

type Catalog = Pick<MetadataStore, "listRepositorySummaries" | "deleteRepository">;

const SUMMARY = `SELECT r.name,
    (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id)::int AS tags,
    (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id)::int AS manifests
  FROM repositories r`;

/**
 * Whole-repository listing and deletion for the PostgreSQL metadata store. The delete locks the
 * repository row `FOR UPDATE` first; pushes and links hold it `FOR KEY SHARE` (ensureRepository),
 * so each either commits before the delete reads the repository's rows, or waits and then finds
 * the repository gone.
 */
export function createPostgresCatalog(pool: pg.Pool): Catalog {
  return {
    async listRepositorySummaries(page, namespace) {
      const last = page.last ?? "";
      const { rows } =
        namespace === undefined
          ? await pool.query<RepositorySummary>(`${SUMMARY} WHERE r.name > $1 ORDER BY r.name LIMIT $2`, [last, page.limit])
          : await pool.query<RepositorySummary>(
              // "ns/" < name < "ns0" is exactly the names starting with "ns/" (byte-wise, COLLATE "C").
              `${SUMMARY} WHERE r.name > $1 AND (r.name = $3 OR (r.name > $4 AND r.name < $5)) ORDER BY r.name LIMIT $2`,
              [last, page.limit, namespace, `${namespace}/`, `${namespace}0`],
            );
      return rows;
    },

    async deleteRepository(repo, options) {
      return transaction(pool, async (client) => {
        const repoRow = await client.query<{ id: string }>("SELECT id FROM repositories WHERE name = $1 FOR UPDATE", [repo]);
        const repoId = repoRow.rows[0]?.id;
        if (repoId === undefined) return { ok: false, missing: true } as const;
        // A new statement after the lock: it sees every push that committed while we waited for it.
        const tags = (await client.query<{ name: string }>("SELECT name FROM tags WHERE repository_id = $1 ORDER BY name", [repoId])).rows;
        const protectedTag = options?.isProtected ? tags.find((t) => options.isProtected!(t.name))?.name : undefined;
        if (protectedTag !== undefined) return { ok: false, protectedTag } as const;
        await client.query("DELETE FROM tags WHERE repository_id = $1", [repoId]);
        // References go with their manifests (ON DELETE CASCADE).
        const manifests = (await client.query("DELETE FROM manifests WHERE repository_id = $1", [repoId])).rowCount ?? 0;
        const links = (await client.query("DELETE FROM repository_blobs WHERE repository_id = $1", [repoId])).rowCount ?? 0;
        await client.query("DELETE FROM repositories WHERE id = $1", [repoId]);
        await insertEvents(client, options?.events);
        return { ok: true, tags: tags.length, manifests, links } as const;
      });
    },
  };
}
