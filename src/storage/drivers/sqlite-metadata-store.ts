import { openSqlite, sqliteUnavailable } from "./sqlite-open.js";
import { guardStore } from "../unavailable.js";
import type { Digest } from "../../oci/digest.js";
import type {
  ManifestRecord,
  MetadataStore,
  PutManifestResult,
} from "../metadata-store.js";
import { createSqliteLifecycle } from "./sqlite-lifecycle.js";
import { createSqliteUsage } from "./sqlite-usage.js";
import { createSqliteRetention } from "./sqlite-retention.js";
import { createSqliteSupply } from "./sqlite-supply.js";
import { createSqliteCatalog } from "./sqlite-catalog.js";
import { createSqliteBrowse } from "./sqlite-browse.js";
import { createSqliteEvents } from "./sqlite-events.js";
import type { EventRecord } from "../event-store.js";
import { SQLITE_MIGRATIONS } from "./sqlite-schema.js";
import { toManifest, toReferrer, toUpload, type ManifestRow, type UploadRow } from "./sql-rows.js";

export interface SqliteMetadataStoreOptions {
  /** Database file; `:memory:` for a throwaway store. */
  path: string;
  /** Sync the WAL on every commit (default true); off survives a process crash but not power loss. */
  fsync?: boolean;
  /** Create the file and its schema when absent (default false: a missing file is a StoreMissingError). */
  create?: boolean;
}






export function createSqliteMetadataStore(options: SqliteMetadataStoreOptions): MetadataStore {
  const db = openSqlite(options.path, options.fsync, SQLITE_MIGRATIONS, "database", options.create);
  const { events, record: recordEvents } = createSqliteEvents(db);

  const q = {
    repoId: db.prepare<[string], { id: number }>("SELECT id FROM repositories WHERE name = ?"),
    insertRepo: db.prepare("INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"),
    listRepos: db.prepare<[string, number], { name: string }>(
      "SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?",
    ),
    getBlob: db.prepare<[string], { size: number }>("SELECT size FROM blobs WHERE digest = ? AND state = 'live'"),
    getLink: db.prepare<[string, string], { size: number }>(
      `SELECT b.size FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
       JOIN blobs b ON b.digest = rb.digest WHERE r.name = ? AND rb.digest = ?`,
    ),
    unlink: db.prepare(
      "DELETE FROM repository_blobs WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?",
    ),
    hasLink: db.prepare<[number, string], { one: number }>(
      "SELECT 1 AS one FROM repository_blobs WHERE repository_id = ? AND digest = ?",
    ),
    hasManifest: db.prepare<[number, string], { one: number }>(
      "SELECT 1 AS one FROM manifests WHERE repository_id = ? AND digest = ?",
    ),
    insertManifest: db.prepare(
      `INSERT INTO manifests (repository_id, digest, media_type, size, content, artifact_type, subject, annotations, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertReference: db.prepare(
      "INSERT INTO manifest_references (repository_id, manifest_digest, kind, digest) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    upsertTag: db.prepare(
      `INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
       WHERE tags.digest <> excluded.digest`,
    ),
    tagDigest: db.prepare<[number, string], { digest: string }>("SELECT digest FROM tags WHERE repository_id = ? AND name = ?"),
    getManifest: db.prepare<[string, string], ManifestRow>(
      `SELECT m.digest, m.media_type, m.content, m.subject, m.created_at FROM manifests m
       JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.digest = ?`,
    ),
    getManifestByTag: db.prepare<[string, string], ManifestRow>(
      `SELECT m.digest, m.media_type, m.content, m.subject, m.created_at FROM tags t
       JOIN repositories r ON r.id = t.repository_id
       JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
       WHERE r.name = ? AND t.name = ?`,
    ),
    deleteManifest: db.prepare("DELETE FROM manifests WHERE repository_id = ? AND digest = ?"),
    deleteTag: db.prepare(
      "DELETE FROM tags WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND name = ?",
    ),
    listTags: db.prepare<[string, string, number], { name: string }>(
      `SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id
       WHERE r.name = ? AND t.name > ? ORDER BY t.name LIMIT ?`,
    ),
    referrers: db.prepare<
      [string, string],
      { digest: string; media_type: string; size: number; artifact_type: string | null; annotations: string | null }
    >(
      `SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM manifests m
       JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.subject = ? ORDER BY m.digest`,
    ),
    parents: db.prepare<[string, string], { manifest_digest: string }>(
      `SELECT mr.manifest_digest FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
       WHERE r.name = ? AND mr.kind = 'manifest' AND mr.digest = ? ORDER BY mr.manifest_digest`,
    ),
    listLinks: db.prepare<[string, string, number], { digest: string; size: number }>(
      `SELECT rb.digest, b.size FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
       JOIN blobs b ON b.digest = rb.digest WHERE r.name = ? AND rb.digest > ? ORDER BY rb.digest LIMIT ?`,
    ),
    listManifests: db.prepare<[string, string, number], ManifestRow>(
      `SELECT m.digest, m.media_type, m.content, m.subject, m.created_at FROM manifests m
       JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.digest > ? ORDER BY m.digest LIMIT ?`,
    ),
    listTagDigests: db.prepare<[string, string, number], { name: string; digest: string }>(
      `SELECT t.name, t.digest FROM tags t JOIN repositories r ON r.id = t.repository_id
       WHERE r.name = ? AND t.name > ? ORDER BY t.name LIMIT ?`,
    ),
    insertUpload: db.prepare(
      "INSERT INTO uploads (id, repository, algorithm, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
    ),
    getUpload: db.prepare<[string], UploadRow>("SELECT * FROM uploads WHERE id = ?"),
    touchUpload: db.prepare("UPDATE uploads SET updated_at = ? WHERE id = ?"),
    deleteUpload: db.prepare("DELETE FROM uploads WHERE id = ?"),
    staleUploads: db.prepare<[number, number], UploadRow>(
      "SELECT * FROM uploads WHERE updated_at < ? ORDER BY updated_at LIMIT ?",
    ),
  };

  const ensureRepo = (name: string): number => {
    const existing = q.repoId.get(name);
    if (existing) return existing.id;
    q.insertRepo.run(name, Date.now());
    return q.repoId.get(name)!.id;
  };

  const putManifest = db.transaction(
    (
      repo: string,
      record: ManifestRecord,
      tags: readonly string[],
      immutableTags: readonly string[],
      changeEvents: readonly EventRecord[] | undefined,
      lazy: boolean,
    ): PutManifestResult => {
      // Checked before the repository is created, so a refused push writes nothing at all.
      const existing = q.repoId.get(repo)?.id ?? -1;
      for (const digest of lazy ? [] : record.blobs) {
        if (!q.hasLink.get(existing, digest)) return { ok: false, missingBlob: digest };
      }
      for (const digest of lazy ? [] : record.children) {
        if (!q.hasManifest.get(existing, digest)) return { ok: false, missingManifest: digest };
      }
      // Inside the IMMEDIATE transaction, so no other writer can create or move the tag meanwhile.
      for (const tag of immutableTags) {
        const current = q.tagDigest.get(existing, tag)?.digest;
        if (current !== undefined && current !== record.digest) return { ok: false, immutableTag: tag };
      }
      const repoId = existing === -1 ? ensureRepo(repo) : existing;
      const now = Date.now();
      const created = !q.hasManifest.get(repoId, record.digest);
      if (created) {
        q.insertManifest.run(
          repoId,
          record.digest,
          record.mediaType,
          record.content.length,
          record.content,
          record.artifactType ?? null,
          record.subject ?? null,
          record.annotations ? JSON.stringify(record.annotations) : null,
          now,
        );
        for (const digest of record.blobs) q.insertReference.run(repoId, record.digest, "blob", digest);
        for (const digest of record.children) q.insertReference.run(repoId, record.digest, "manifest", digest);
      }
      for (const tag of tags) q.upsertTag.run(repoId, tag, record.digest, now);
      recordEvents(changeEvents);
      return { ok: true, created };
    },
  );

  const deleteManifest = db.transaction((repo: string, digest: string, changeEvents?: readonly EventRecord[]): boolean => {
    const repoId = q.repoId.get(repo)?.id;
    if (repoId === undefined || q.deleteManifest.run(repoId, digest).changes === 0) return false;
    recordEvents(changeEvents);
    return true;
  });

  const deleteTag = db.transaction((repo: string, tag: string, changeEvents?: readonly EventRecord[]): boolean => {
    if (q.deleteTag.run(repo, tag).changes === 0) return false;
    recordEvents(changeEvents);
    return true;
  });

  const store: MetadataStore = {
    ...createSqliteLifecycle(db, ensureRepo, recordEvents),
    ...createSqliteUsage(db),
    ...createSqliteRetention(db, recordEvents),
    ...createSqliteSupply(db),
    ...createSqliteCatalog(db, recordEvents),
    ...createSqliteBrowse(db),
    ...events,
    async repositoryExists(name) {
      return q.repoId.get(name) !== undefined;
    },
    async createRepository(name) {
      return q.insertRepo.run(name, Date.now()).changes > 0;
    },
    async listRepositories(page) {
      return q.listRepos.all(page.last ?? "", page.limit).map((r) => r.name);
    },
    async getBlobLink(repo, digest) {
      return q.getLink.get(repo, digest);
    },
    async getBlob(digest) {
      return q.getBlob.get(digest);
    },
    async unlinkBlob(repo, digest) {
      return q.unlink.run(repo, digest).changes > 0;
    },
    async putManifest(repo, record, tags, options) {
      return putManifest.immediate(repo, record, tags, options?.immutableTags ?? [], options?.events, options?.lazyReferences === true);
    },
    async getManifest(repo, digest) {
      const row = q.getManifest.get(repo, digest);
      return row && toManifest(row);
    },
    async getManifestByTag(repo, tag) {
      const row = q.getManifestByTag.get(repo, tag);
      return row && toManifest(row);
    },
    async deleteManifest(repo, digest, changeEvents) {
      return deleteManifest.immediate(repo, digest, changeEvents);
    },
    async deleteTag(repo, tag, changeEvents) {
      return deleteTag.immediate(repo, tag, changeEvents);
    },
    async listTags(repo, page) {
      return q.listTags.all(repo, page.last ?? "", page.limit).map((r) => r.name);
    },
    async listReferrers(repo, subject, artifactType) {
      const rows = q.referrers.all(repo, subject);
      return rows.filter((row) => artifactType === undefined || row.artifact_type === artifactType).map(toReferrer);
    },
    async listParentManifests(repo, digest) {
      return q.parents.all(repo, digest).map((r) => r.manifest_digest as Digest);
    },
    async listBlobLinks(repo, page) {
      return q.listLinks.all(repo, page.last ?? "", page.limit).map((r) => ({ digest: r.digest as Digest, size: r.size }));
    },
    async listManifests(repo, page) {
      return q.listManifests.all(repo, page.last ?? "", page.limit).map(toManifest);
    },
    async listTagDigests(repo, page) {
      return q.listTagDigests.all(repo, page.last ?? "", page.limit).map((r) => ({ tag: r.name, digest: r.digest as Digest }));
    },
    async createUpload(s) {
      q.insertUpload.run(s.id, s.repository, s.algorithm, s.createdAt, s.updatedAt);
    },
    async getUpload(id) {
      const row = q.getUpload.get(id);
      return row && toUpload(row);
    },
    async touchUpload(id, updatedAt) {
      q.touchUpload.run(updatedAt, id);
    },
    async deleteUpload(id) {
      q.deleteUpload.run(id);
    },
    async listStaleUploads(before, limit) {
      return q.staleUploads.all(before, limit).map(toUpload);
    },
    async ping() {
      db.prepare("SELECT 1").get();
    },
    async close() {
      if (db.open) db.close();
    },
  };
  return guardStore(store, "metadata", "metadata database (SQLite)", sqliteUnavailable);
}
