import type Database from "better-sqlite3";
import type { Digest } from "../../oci/digest.js";
import type { BrowseKey, BrowseStore } from "../browse-store.js";
import {
  REPOSITORY_COLUMNS,
  TOTAL_SIZE,
  repositoryListSql,
  tagListSql,
  toRepositoryStats,
  toTagDetail,
  untaggedSql,
  type BrowseDialect,
  type RepositoryStatsRow,
  type TagRow,
} from "./browse-sql.js";

const dialect: BrowseDialect = { contains: (column) => `instr(${column}, :contains) > 0` };
const REPO_ID = "(SELECT id FROM repositories WHERE name = :repo)";

type Params = Record<string, string | number>;

/** The BrowseStore half of the SQLite metadata store; statements are prepared once per query shape. */
export function createSqliteBrowse(db: Database.Database): BrowseStore {
  const prepared = new Map<string, Database.Statement<Params>>();
  const statement = (sql: string) => {
    let s = prepared.get(sql);
    if (!s) prepared.set(sql, (s = db.prepare<Params>(sql)));
    return s;
  };
  const keyParams = (after: BrowseKey | undefined, contains: string | undefined, limit: number): Params => ({
    limit,
    ...(after ? { last_value: after.value, last_name: after.name } : {}),
    ...(contains !== undefined ? { contains } : {}),
  });
  // better-sqlite3 refuses named parameters a statement does not use: pass only those it names.
  const only = (sql: string, params: Params): Params =>
    Object.fromEntries(Object.entries(params).filter(([k]) => sql.includes(`:${k}`)));
  const all = <R>(sql: string, params: Params) => statement(sql).all(only(sql, params)) as R[];
  const one = <R>(sql: string, params: Params) => statement(sql).get(only(sql, params)) as R | undefined;

  return {
    async listRepositoryStats(query) {
      const sql = repositoryListSql(dialect, query);
      return all<RepositoryStatsRow>(sql, keyParams(query.after, query.contains, query.limit)).map(toRepositoryStats);
    },
    async countRepositories(contains) {
      const sql = `SELECT COUNT(*) AS n FROM repositories${contains !== undefined ? ` WHERE ${dialect.contains("name")}` : ""}`;
      return one<{ n: number }>(sql, contains !== undefined ? { contains } : {})!.n;
    },
    async repositoryStats(name) {
      const row = one<RepositoryStatsRow>(`SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE name = :repo`, { repo: name });
      return row && toRepositoryStats(row);
    },
    async listTagDetails(repo, query) {
      const sql = tagListSql(dialect, query, REPO_ID);
      return all<TagRow>(sql, { repo, ...keyParams(query.after, query.contains, query.limit) }).map(toTagDetail);
    },
    async countTags(repo, contains) {
      const sql = `SELECT COUNT(*) AS n FROM tags t WHERE t.repository_id = ${REPO_ID}${contains !== undefined ? ` AND ${dialect.contains("t.name")}` : ""}`;
      return one<{ n: number }>(sql, { repo, ...(contains !== undefined ? { contains } : {}) })!.n;
    },
    async listUntaggedManifests(repo, query) {
      const sql = untaggedSql(REPO_ID, query.after !== undefined);
      return all<{ digest: Digest; created_at: number }>(sql, { repo, ...keyParams(query.after, undefined, query.limit) }).map((r) => ({
        digest: r.digest,
        createdAt: r.created_at,
      }));
    },
    async manifestSummaries(repo, digests) {
      if (digests.length === 0) return [];
      const sql = `SELECT m.digest, m.media_type, m.artifact_type, m.size, m.content, m.created_at, ${TOTAL_SIZE} AS total_size
        FROM manifests m WHERE m.repository_id = ${REPO_ID} AND m.digest IN (SELECT value FROM json_each(:digests))`;
      const rows = all<{ digest: Digest; media_type: string; artifact_type: string | null; size: number; content: Buffer; created_at: number; total_size: number }>(
        sql,
        { repo, digests: JSON.stringify(digests) },
      );
      return rows.map((r) => ({
        digest: r.digest,
        mediaType: r.media_type,
        ...(r.artifact_type !== null ? { artifactType: r.artifact_type } : {}),
        size: r.size,
        totalSize: r.total_size,
        content: r.content,
        createdAt: r.created_at,
      }));
    },
  };
}
