import type { Digest } from "../../oci/digest.js";
import type { RepositoryQuery, RepositoryStats, TagDetail, TagQuery } from "../browse-store.js";

/**
 * The browse listings' SQL, shared by both drivers: each driver passes its own substring test and
 * parameter style. Statements name parameters `:last_value`, `:last_name`, `:contains`, `:limit`
 * (and `:repo` for tags); a driver maps them to its placeholders.
 */
export interface BrowseDialect {
  /** `name` contains `:contains` (byte-wise). */
  contains(column: string): string;
}

const REPOSITORY_SORT = { name: undefined, pushed: "pushed_at", size: "size" } as const;
const TAG_SORT = { name: undefined, pushed: "t.updated_at" } as const;

/** A keyset condition and ORDER BY for `(column, name)` in `order`; `name` alone when column is undefined. */
function keyset(column: string | undefined, name: string, order: "asc" | "desc", after: boolean): { where: string; orderBy: string } {
  const op = order === "asc" ? ">" : "<";
  const dir = order === "asc" ? "ASC" : "DESC";
  if (!column) return { where: after ? `${name} ${op} :last_name` : "", orderBy: `${name} ${dir}` };
  return { where: after ? `(${column}, ${name}) ${op} (:last_value, :last_name)` : "", orderBy: `${column} ${dir}, ${name} ${dir}` };
}

export const REPOSITORY_COLUMNS = "name, tag_count, manifest_count, size, pushed_at";

export function repositoryListSql(d: BrowseDialect, query: Omit<RepositoryQuery, "limit">): string {
  const k = keyset(REPOSITORY_SORT[query.sort], "name", query.order, query.after !== undefined);
  const where = [k.where, query.contains !== undefined ? d.contains("name") : ""].filter(Boolean);
  return `SELECT ${REPOSITORY_COLUMNS} FROM repositories ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY ${k.orderBy} LIMIT :limit`;
}

export function tagListSql(d: BrowseDialect, query: Omit<TagQuery, "limit">, repoId: string): string {
  const k = keyset(TAG_SORT[query.sort], "t.name", query.order, query.after !== undefined);
  const where = [`t.repository_id = ${repoId}`, k.where, query.contains !== undefined ? d.contains("t.name") : ""].filter(Boolean);
  return `SELECT t.name, t.digest, t.updated_at, t.pulled_at, t.pull_count FROM tags t WHERE ${where.join(" AND ")}
    ORDER BY ${k.orderBy} LIMIT :limit`;
}

export function untaggedSql(repoId: string, after: boolean): string {
  return `SELECT m.digest, m.created_at FROM manifests m WHERE m.repository_id = ${repoId} AND m.subject IS NULL
    AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)
    AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository_id = m.repository_id AND r.kind = 'manifest' AND r.digest = m.digest)
    ${after ? "AND (m.created_at, m.digest) < (:last_value, :last_name)" : ""}
    ORDER BY m.created_at DESC, m.digest DESC LIMIT :limit`;
}

/**
 * Manifest `m`'s bytes, its children's, and the distinct blobs it and its children reference. The
 * blobs are two index lookups (its own references, its children's) joined by UNION, not one OR
 * that would make SQLite scan every reference of the repository for each manifest; each blob's
 * and child's size is then one primary-key probe (a join lets PostgreSQL scan far more per row).
 */
export const TOTAL_SIZE = `m.size
  + COALESCE((SELECT SUM((SELECT c.size FROM manifests c WHERE c.repository_id = m.repository_id AND c.digest = r.digest))
      FROM manifest_references r WHERE r.repository_id = m.repository_id AND r.manifest_digest = m.digest AND r.kind = 'manifest'), 0)
  + COALESCE((SELECT SUM((SELECT b.size FROM blobs b WHERE b.digest = d.digest)) FROM
      (SELECT r.digest FROM manifest_references r WHERE r.repository_id = m.repository_id AND r.manifest_digest = m.digest AND r.kind = 'blob'
       UNION SELECT r.digest FROM manifest_references c JOIN manifest_references r
         ON r.repository_id = c.repository_id AND r.manifest_digest = c.digest AND r.kind = 'blob'
       WHERE c.repository_id = m.repository_id AND c.manifest_digest = m.digest AND c.kind = 'manifest') d), 0)`;

export interface RepositoryStatsRow {
  name: string;
  tag_count: number | string;
  manifest_count: number | string;
  size: number | string;
  pushed_at: number | string;
}

export function toRepositoryStats(r: RepositoryStatsRow): RepositoryStats {
  const pushedAt = Number(r.pushed_at);
  return {
    name: r.name,
    tags: Number(r.tag_count),
    manifests: Number(r.manifest_count),
    size: Number(r.size),
    ...(pushedAt > 0 ? { pushedAt } : {}),
  };
}

export interface TagRow {
  name: string;
  digest: string;
  updated_at: number | string;
  pulled_at: number | string | null;
  pull_count: number | string;
}

export function toTagDetail(r: TagRow): TagDetail {
  return {
    tag: r.name,
    digest: r.digest as Digest,
    pushedAt: Number(r.updated_at),
    ...(r.pulled_at !== null ? { pulledAt: Number(r.pulled_at) } : {}),
    pulls: Number(r.pull_count),
  };
}

/** Rewrites `:name` parameters to PostgreSQL's `$n`, in the order of `names`. */
export function numbered(sql: string, names: readonly string[]): string {
  return names.reduce((s, n, i) => s.replaceAll(`:${n}`, `$${i + 1}`), sql);
}
