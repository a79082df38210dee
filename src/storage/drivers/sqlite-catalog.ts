import type Database from "better-sqlite3";
import type { DeleteRepositoryOptions, DeleteRepositoryResult, MetadataStore } from "../metadata-store.js";
import type { RecordEvents } from "./sqlite-events.js";

type Catalog = Pick<MetadataStore, "listRepositorySummaries" | "deleteRepository">;

interface SummaryRow {
  name: string;
  tags: number;
  manifests: number;
}

/**
 * Whole-repository listing and deletion for the SQLite metadata store. The delete is one IMMEDIATE
 * transaction: SQLite's single writer orders it against every push, link and GC step.
 */
export function createSqliteCatalog(db: Database.Database, recordEvents: RecordEvents): Catalog {
  const summary = (where: string) =>
    db.prepare<Record<string, string | number>, SummaryRow>(
      `SELECT r.name,
         (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id) AS tags,
         (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS manifests
       FROM repositories r WHERE r.name > @last ${where} ORDER BY r.name LIMIT @limit`,
    );
  const q = {
    all: summary(""),
    // "ns/" < name < "ns0" is exactly the names starting with "ns/" ("0" follows "/" in byte order).
    scoped: summary("AND (r.name = @ns OR (r.name > @lo AND r.name < @hi))"),
    repoId: db.prepare<[string], { id: number }>("SELECT id FROM repositories WHERE name = ?"),
    tags: db.prepare<[number], { name: string }>("SELECT name FROM tags WHERE repository_id = ? ORDER BY name"),
    deleteTags: db.prepare("DELETE FROM tags WHERE repository_id = ?"),
    deleteManifests: db.prepare("DELETE FROM manifests WHERE repository_id = ?"),
    deleteLinks: db.prepare("DELETE FROM repository_blobs WHERE repository_id = ?"),
    deleteRepo: db.prepare("DELETE FROM repositories WHERE id = ?"),
  };

  const deleteRepository = db.transaction((repo: string, { isProtected, events }: DeleteRepositoryOptions = {}): DeleteRepositoryResult => {
    const repoId = q.repoId.get(repo)?.id;
    if (repoId === undefined) return { ok: false, missing: true };
    const tags = q.tags.all(repoId).map((t) => t.name);
    const protectedTag = isProtected ? tags.find(isProtected) : undefined;
    if (protectedTag !== undefined) return { ok: false, protectedTag };
    q.deleteTags.run(repoId);
    // Their references go with them (ON DELETE CASCADE).
    const manifests = q.deleteManifests.run(repoId).changes;
    const links = q.deleteLinks.run(repoId).changes;
    q.deleteRepo.run(repoId);
    recordEvents(events);
    return { ok: true, tags: tags.length, manifests, links };
  });

  return {
    async listRepositorySummaries(page, namespace) {
      const base = { last: page.last ?? "", limit: page.limit };
      return namespace === undefined
        ? q.all.all(base)
        : q.scoped.all({ ...base, ns: namespace, lo: `${namespace}/`, hi: `${namespace}0` });
    },
    async deleteRepository(repo, options) {
      return deleteRepository.immediate(repo, options);
    },
  };
}
