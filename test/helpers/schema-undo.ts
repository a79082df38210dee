import type Database from "better-sqlite3";
import type pg from "pg";

const COLUMNS = ["pushed_at", "size", "tag_count", "manifest_count"];

/**
 * Takes an SQLite metadata database back to schema 5 (before the per-repository numbers of
 * migration 6), rows kept, so a test can watch the migration count what is already stored.
 */
export function undoSqliteRepositoryStats(db: Database.Database): void {
  for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'repository_stats_%'").all() as { name: string }[]) {
    db.exec(`DROP TRIGGER ${name}`);
  }
  db.exec("DROP INDEX repositories_pushed; DROP INDEX repositories_size; DROP INDEX tags_updated");
  for (const c of COLUMNS) db.exec(`ALTER TABLE repositories DROP COLUMN ${c}`);
  db.exec("ALTER TABLE tags DROP COLUMN pull_count");
  db.pragma("user_version = 5");
}

/** The same for PostgreSQL: back to schema 4 (its migration 5 is SQLite's 6). */
export async function undoPostgresRepositoryStats(client: pg.Client): Promise<void> {
  await client.query(`
    DROP TRIGGER repository_stats_link ON repository_blobs; DROP TRIGGER repository_stats_manifest ON manifests;
    DROP TRIGGER repository_stats_tag ON tags;
    DROP FUNCTION repository_stats_link(); DROP FUNCTION repository_stats_manifest(); DROP FUNCTION repository_stats_tag();
    DROP INDEX repositories_pushed; DROP INDEX repositories_size; DROP INDEX tags_updated;
    ${COLUMNS.map((c) => `ALTER TABLE repositories DROP COLUMN ${c};`).join(" ")}
    ALTER TABLE tags DROP COLUMN pull_count;
    DELETE FROM schema_migrations WHERE version = 5;`);
}
