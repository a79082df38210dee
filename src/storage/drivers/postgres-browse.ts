import type pg from "pg";
import type { Digest } from "../../oci/digest.js";
import type { BrowseKey, BrowseStore } from "../browse-store.js";
import {
  REPOSITORY_COLUMNS,
  TOTAL_SIZE,
  numbered,
  repositoryListSql,
  tagListSql,
  toRepositoryStats,
  toTagDetail,
  untaggedSql,
  type BrowseDialect,
  type RepositoryStatsRow,
  type TagRow,
} from "./browse-sql.js";

const dialect: BrowseDialect = { contains: (column) => `strpos(${column}, :contains) > 0` };
/**
 * Queries of one repository take its id as a parameter, looked up first: with a sub-select the
 * planner must guess the repository's row counts from the average (a handful), and for a
 * repository of thousands of tags it then filters instead of seeking (150 ms instead of 1).
 */
const REPO_ID = ":rid";

type Params = Record<string, unknown>;

/** The BrowseStore half of the PostgreSQL metadata store. */
export function createPostgresBrowse(pool: pg.Pool): BrowseStore {
  /** Runs `sql` with its `:name` parameters bound from `params` (only those it names). */
  const rows = async <R extends pg.QueryResultRow>(sql: string, params: Params): Promise<R[]> => {
    const names = Object.keys(params).filter((k) => sql.includes(`:${k}`));
    // Longest first, so `:last_name` is never cut by a shorter name that prefixes it.
    names.sort((a, b) => b.length - a.length);
    return (await pool.query<R>(numbered(sql, names), names.map((n) => params[n]))).rows;
  };
  const idOf = async (repo: string): Promise<string | undefined> =>
    (await pool.query<{ id: string }>("SELECT id FROM repositories WHERE name = $1", [repo])).rows[0]?.id;
  const keyParams = (after: BrowseKey | undefined, contains: string | undefined, limit: number): Params => ({
    limit,
    ...(after ? { last_value: after.value, last_name: after.name } : {}),
    ...(contains !== undefined ? { contains } : {}),
  });

  return {
    async listRepositoryStats(query) {
      return (await rows<RepositoryStatsRow>(repositoryListSql(dialect, query), keyParams(query.after, query.contains, query.limit))).map(toRepositoryStats);
    },
    async countRepositories(contains) {
      const sql = `SELECT COUNT(*) AS n FROM repositories${contains !== undefined ? ` WHERE ${dialect.contains("name")}` : ""}`;
      return Number((await rows<{ n: string }>(sql, contains !== undefined ? { contains } : {}))[0]!.n);
    },
    async repositoryStats(name) {
      const [row] = await rows<RepositoryStatsRow>(`SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE name = :repo`, { repo: name });
      return row && toRepositoryStats(row);
    },
    async listTagDetails(repo, query) {
      const rid = await idOf(repo);
      if (rid === undefined) return [];
      return (await rows<TagRow>(tagListSql(dialect, query, REPO_ID), { rid, ...keyParams(query.after, query.contains, query.limit) })).map(toTagDetail);
    },
    async countTags(repo, contains) {
      const rid = await idOf(repo);
      if (rid === undefined) return 0;
      const sql = `SELECT COUNT(*) AS n FROM tags t WHERE t.repository_id = ${REPO_ID}${contains !== undefined ? ` AND ${dialect.contains("t.name")}` : ""}`;
      return Number((await rows<{ n: string }>(sql, { rid, ...(contains !== undefined ? { contains } : {}) }))[0]!.n);
    },
    async listUntaggedManifests(repo, query) {
      const rid = await idOf(repo);
      if (rid === undefined) return [];
      const found = await rows<{ digest: Digest; created_at: string }>(untaggedSql(REPO_ID, query.after !== undefined), {
        rid,
        ...keyParams(query.after, undefined, query.limit),
      });
      return found.map((r) => ({ digest: r.digest, createdAt: Number(r.created_at) }));
    },
    async manifestSummaries(repo, digests) {
      const rid = digests.length === 0 ? undefined : await idOf(repo);
      if (rid === undefined) return [];
      const found = await rows<{ digest: Digest; media_type: string; artifact_type: string | null; size: string; content: Buffer; created_at: string; total_size: string }>(
        `SELECT m.digest, m.media_type, m.artifact_type, m.size, m.content, m.created_at, ${TOTAL_SIZE} AS total_size
         FROM manifests m WHERE m.repository_id = ${REPO_ID} AND m.digest = ANY(:digests::text[])`,
        { rid, digests: [...digests] },
      );
      return found.map((r) => ({
        digest: r.digest,
        mediaType: r.media_type,
        ...(r.artifact_type !== null ? { artifactType: r.artifact_type } : {}),
        size: Number(r.size),
        totalSize: Number(r.total_size),
        content: r.content,
        createdAt: Number(r.created_at),
      }));
    },
  };
}
