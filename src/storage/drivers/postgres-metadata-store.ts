import type pg from "pg";
import { openPool, postgresUnavailable, type PoolTimeouts } from "./postgres-pool.js";
import { guardStore } from "../unavailable.js";
import { createPostgresLifecycle } from "./postgres-lifecycle.js";
import { createPostgresUsage } from "./postgres-usage.js";
import { createPostgresRetention } from "./postgres-retention.js";
import { createPostgresSupply } from "./postgres-supply.js";
import { createPostgresCatalog } from "./postgres-catalog.js";
import { createPostgresBrowse } from "./postgres-browse.js";
import { changeWithEvents, createPostgresEvents, insertEvents } from "./postgres-events.js";
import type { EventRecord } from "../event-store.js";
import { ATTEMPTS, ensureRepository, transaction } from "./postgres-tx.js";
import type { Digest } from "../../oci/digest.js";
import type {
  ManifestRecord,
  MetadataStore,
  PutManifestResult,
} from "../metadata-store.js";
import { POSTGRES_MIGRATIONS, POSTGRES_MIGRATIONS_TABLE } from "./postgres-schema.js";
import { toManifest, toReferrer, toUpload, type ManifestRow, type ReferrerRow, type UploadRow } from "./sql-rows.js";

export interface PostgresMetadataStoreOptions {
  /** `postgres://user:password@host:port/database`; the role needs CREATE on the schema to migrate it. */
  url: string;
  /** Most connections the store keeps open (default 10). */
  poolSize?: number;
  /** Create the schema when its tables are absent (default false: a StoreMissingError, nothing created). */
  create?: boolean;
  /** Bounds on connecting and on each statement; a store that exceeds them answers 503 UNAVAILABLE. */
  timeouts?: PoolTimeouts;
}

/** Session advisory lock key ("berth" in ASCII) that serialises migrations across Berth nodes. */
const MIGRATION_LOCK_KEY = "422608794728";




/** Thrown inside putManifest's transaction to roll it back and report the missing reference or immutable tag. */
class MissingReference extends Error {
  constructor(readonly result: PutManifestResult & { ok: false }) {
    super("missing reference");
  }
}




const MANIFEST_COLUMNS = "m.digest, m.media_type, m.content, m.subject, m.created_at";
const UPLOAD_COLUMNS = "id, repository, algorithm, created_at, updated_at";
const REPO_ID = "(SELECT id FROM repositories WHERE name = $1)";

/** The first of `wanted` not among `found`, in `wanted` order. */
function firstMissing(wanted: readonly Digest[], found: { digest: string }[]): Digest | undefined {
  const present = new Set(found.map((r) => r.digest));
  return wanted.find((d) => !present.has(d));
}

async function putManifestIn(
  client: pg.PoolClient,
  repo: string,
  record: ManifestRecord,
  tags: readonly string[],
  immutableTags: readonly string[],
  events: readonly EventRecord[] | undefined,
  lazy: boolean,
): Promise<PutManifestResult> {
  const repoId = await ensureRepository(client, repo);
  // FOR SHARE holds the rows until COMMIT: an unlinkBlob or deleteManifest in flight either finished
  // before this check (and the row is missing) or waits until the manifest is stored.
  if (record.blobs.length > 0 && !lazy) {
    const { rows } = await client.query<{ digest: string }>(
      "SELECT digest FROM repository_blobs WHERE repository_id = $1 AND digest = ANY($2::text[]) FOR SHARE",
      [repoId, record.blobs],
    );
    const missingBlob = firstMissing(record.blobs, rows);
    if (missingBlob) throw new MissingReference({ ok: false, missingBlob });
  }
  if (record.children.length > 0 && !lazy) {
    const { rows } = await client.query<{ digest: string }>(
      "SELECT digest FROM manifests WHERE repository_id = $1 AND digest = ANY($2::text[]) FOR SHARE",
      [repoId, record.children],
    );
    const missingManifest = firstMissing(record.children, rows);
    if (missingManifest) throw new MissingReference({ ok: false, missingManifest });
  }

  const now = Date.now();
  let created = false;
  // Either lock the existing row (so a concurrent delete cannot strand the tags) or insert it; a
  // concurrent insert of the same manifest makes ours a no-op, and the loop then locks the winner's row.
  for (let attempt = 0; ; attempt++) {
    const existing = await client.query(
      "SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = $2 FOR SHARE",
      [repoId, record.digest],
    );
    if (existing.rowCount) break;
    const inserted = await client.query(
      `INSERT INTO manifests
         (repository_id, digest, media_type, size, content, artifact_type, subject, annotations, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
      [
        repoId,
        record.digest,
        record.mediaType,
        record.content.length,
        record.content,
        record.artifactType ?? null,
        record.subject ?? null,
        record.annotations ? JSON.stringify(record.annotations) : null,
        now,
      ],
    );
    if (inserted.rowCount) {
      created = true;
      break;
    }
    if (attempt >= ATTEMPTS) throw new Error(`manifest ${record.digest} keeps being deleted while stored`);
  }

  if (created && record.blobs.length + record.children.length > 0) {
    await client.query(
      `INSERT INTO manifest_references (repository_id, manifest_digest, kind, digest)
       SELECT $1, $2, r.kind, r.digest FROM unnest($3::text[], $4::text[]) AS r(kind, digest)
       ON CONFLICT DO NOTHING`,
      [
        repoId,
        record.digest,
        [...record.blobs.map(() => "blob"), ...record.children.map(() => "manifest")],
        [...record.blobs, ...record.children],
      ],
    );
  }
  if (tags.length > 0) {
    // Sorted and deduplicated: two pushes locking the same tags in the same order cannot deadlock,
    // and one statement may not update a row twice.
    const sorted = [...new Set(tags)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    // An immutable tag is inserted but never updated. A conflicting row, even one a concurrent push
    // inserted and committed while this statement waited on the unique index, is left as it is yet
    // locked until COMMIT; the SELECT below (a new snapshot) then sees what it points at.
    await client.query(
      `INSERT INTO tags (repository_id, name, digest, updated_at)
       SELECT $1, t.name, $2, $3 FROM unnest($4::text[]) WITH ORDINALITY AS t(name, n) ORDER BY t.n
       ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
       WHERE tags.digest <> excluded.digest AND tags.name <> ALL($5::text[])`,
      [repoId, record.digest, now, sorted, immutableTags],
    );
    if (immutableTags.length > 0) {
      const moved = await client.query<{ name: string }>(
        "SELECT name FROM tags WHERE repository_id = $1 AND name = ANY($2::text[]) AND digest <> $3 ORDER BY name LIMIT 1",
        [repoId, immutableTags, record.digest],
      );
      if (moved.rows[0]) throw new MissingReference({ ok: false, immutableTag: moved.rows[0].name });
    }
  }
  await insertEvents(client, events);
  return { ok: true, created };
}

/**
 * A MetadataStore on PostgreSQL, for several Berth nodes sharing one database. Opens a pool of
 * `poolSize` connections and brings the schema up to date before resolving (see postgres-pool.ts); the
 * pool is closed again when that fails.
 */
export async function createPostgresMetadataStore(options: PostgresMetadataStoreOptions): Promise<MetadataStore> {
  const pool = await openPool(options.url, options.poolSize ?? 10, {
    lockKey: MIGRATION_LOCK_KEY,
    table: "schema_migrations",
    createTable: POSTGRES_MIGRATIONS_TABLE,
    migrations: POSTGRES_MIGRATIONS,
    label: "database",
    create: options.create ?? false,
  }, options.timeouts);

  const firstRow = async <R extends pg.QueryResultRow>(text: string, values: unknown[]) =>
    (await pool.query<R>(text, values)).rows[0];
  const changesAny = async (text: string, values: unknown[]) => ((await pool.query(text, values)).rowCount ?? 0) > 0;

  const store: MetadataStore = {
    ...createPostgresLifecycle(pool),
    ...createPostgresUsage(pool),
    ...createPostgresRetention(pool),
    ...createPostgresSupply(pool),
    ...createPostgresCatalog(pool),
    ...createPostgresBrowse(pool),
    ...createPostgresEvents(pool),
    async repositoryExists(name) {
      return (await firstRow("SELECT 1 FROM repositories WHERE name = $1", [name])) !== undefined;
    },
    async createRepository(name) {
      return changesAny("INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [name, Date.now()]);
    },
    async listRepositories(page) {
      const { rows } = await pool.query<{ name: string }>(
        "SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2",
        [page.last ?? "", page.limit],
      );
      return rows.map((r) => r.name);
    },
    async getBlobLink(repo, digest) {
      return firstRow<{ size: number }>(
        `SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
         WHERE rb.repository_id = ${REPO_ID} AND rb.digest = $2`,
        [repo, digest],
      );
    },
    async getBlob(digest) {
      return firstRow<{ size: number }>("SELECT size FROM blobs WHERE digest = $1 AND state = 'live'", [digest]);
    },
    async unlinkBlob(repo, digest) {
      return changesAny(`DELETE FROM repository_blobs WHERE repository_id = ${REPO_ID} AND digest = $2`, [repo, digest]);
    },
    async putManifest(repo, record, tags, options) {
      try {
        return await transaction(pool, (client) => putManifestIn(client, repo, record, tags, options?.immutableTags ?? [], options?.events, options?.lazyReferences === true));
      } catch (err) {
        if (err instanceof MissingReference) return err.result;
        throw err;
      }
    },
    async getManifest(repo, digest) {
      const row = await firstRow<ManifestRow>(
        `SELECT ${MANIFEST_COLUMNS} FROM manifests m WHERE m.repository_id = ${REPO_ID} AND m.digest = $2`,
        [repo, digest],
      );
      return row && toManifest(row);
    },
    async getManifestByTag(repo, tag) {
      const row = await firstRow<ManifestRow>(
        `SELECT ${MANIFEST_COLUMNS} FROM tags t
         JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
         WHERE t.repository_id = ${REPO_ID} AND t.name = $2`,
        [repo, tag],
      );
      return row && toManifest(row);
    },
    async deleteManifest(repo, digest, events) {
      // Tags and references go with it through ON DELETE CASCADE, in the same statement.
      return changeWithEvents(pool, events, `DELETE FROM manifests WHERE repository_id = ${REPO_ID} AND digest = $2`, [repo, digest]);
    },
    async deleteTag(repo, tag, events) {
      return changeWithEvents(pool, events, `DELETE FROM tags WHERE repository_id = ${REPO_ID} AND name = $2`, [repo, tag]);
    },
    async listTags(repo, page) {
      const { rows } = await pool.query<{ name: string }>(
        `SELECT t.name FROM tags t WHERE t.repository_id = ${REPO_ID} AND t.name > $2 ORDER BY t.name LIMIT $3`,
        [repo, page.last ?? "", page.limit],
      );
      return rows.map((r) => r.name);
    },
    async listReferrers(repo, subject, artifactType) {
      const { rows } = await pool.query<ReferrerRow>(
        `SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM manifests m
         WHERE m.repository_id = ${REPO_ID} AND m.subject = $2 AND ($3::text IS NULL OR m.artifact_type = $3)
         ORDER BY m.digest`,
        [repo, subject, artifactType ?? null],
      );
      return rows.map(toReferrer);
    },
    async listParentManifests(repo, digest) {
      const { rows } = await pool.query<{ manifest_digest: Digest }>(
        `SELECT mr.manifest_digest FROM manifest_references mr
         WHERE mr.repository_id = ${REPO_ID} AND mr.kind = 'manifest' AND mr.digest = $2 ORDER BY mr.manifest_digest`,
        [repo, digest],
      );
      return rows.map((r) => r.manifest_digest);
    },
    async listBlobLinks(repo, page) {
      const { rows } = await pool.query<{ digest: Digest; size: number }>(
        `SELECT rb.digest, b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
         WHERE rb.repository_id = ${REPO_ID} AND rb.digest > $2 ORDER BY rb.digest LIMIT $3`,
        [repo, page.last ?? "", page.limit],
      );
      return rows;
    },
    async listManifests(repo, page) {
      const { rows } = await pool.query<ManifestRow>(
        `SELECT ${MANIFEST_COLUMNS} FROM manifests m WHERE m.repository_id = ${REPO_ID} AND m.digest > $2
         ORDER BY m.digest LIMIT $3`,
        [repo, page.last ?? "", page.limit],
      );
      return rows.map(toManifest);
    },
    async listTagDigests(repo, page) {
      const { rows } = await pool.query<{ tag: string; digest: Digest }>(
        `SELECT t.name AS tag, t.digest FROM tags t WHERE t.repository_id = ${REPO_ID} AND t.name > $2
         ORDER BY t.name LIMIT $3`,
        [repo, page.last ?? "", page.limit],
      );
      return rows;
    },
    async createUpload(s) {
      await pool.query(
        "INSERT INTO uploads (id, repository, algorithm, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        [s.id, s.repository, s.algorithm, s.createdAt, s.updatedAt],
      );
    },
    async getUpload(id) {
      const row = await firstRow<UploadRow>(`SELECT ${UPLOAD_COLUMNS} FROM uploads WHERE id = $1`, [id]);
      return row && toUpload(row);
    },
    async touchUpload(id, updatedAt) {
      await pool.query("UPDATE uploads SET updated_at = $1 WHERE id = $2", [updatedAt, id]);
    },
    async deleteUpload(id) {
      await pool.query("DELETE FROM uploads WHERE id = $1", [id]);
    },
    async listStaleUploads(before, limit) {
      const { rows } = await pool.query<UploadRow>(
        `SELECT ${UPLOAD_COLUMNS} FROM uploads WHERE updated_at < $1 ORDER BY updated_at, id LIMIT $2`,
        [before, limit],
      );
      return rows.map(toUpload);
    },
    async ping() {
      await pool.query("SELECT 1");
    },
    async close() {
      if (!pool.ending) await pool.end();
    },
  };
  return guardStore(store, "metadata", "metadata database (PostgreSQL)", postgresUnavailable(options.timeouts));
}
