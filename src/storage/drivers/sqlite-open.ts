import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { StoreMissingError } from "./store-missing.js";

/**
 * Opens a SQLite file the way both SQLite stores want it (WAL; the WAL synced on every commit
 * unless `fsync` is false; foreign keys; a busy timeout so the CLI and the server share the file)
 * and applies `migrations` recorded in `PRAGMA user_version`. Closes the file again on failure.
 * Without `create`, a file that does not exist or holds no schema is a StoreMissingError and
 * nothing is created. `ownerOnly` files (secrets: password hashes, signing keys) are created
 * with mode 0600, and an existing one readable by others is narrowed to it; SQLite gives its
 * -wal and -shm files the database file's mode.
 */
export function openSqlite(path: string, fsync: boolean | undefined, migrations: readonly string[], label: string, create = false, ownerOnly = false): Database.Database {
  const memory = path === ":memory:";
  if (!memory && !create && !existsSync(path)) throw new StoreMissingError(path);
  if (!memory && create) mkdirSync(dirname(path), { recursive: true });
  if (!memory && ownerOnly) restrictToOwner(path);
  const db = new Database(path, { fileMustExist: !memory && !create });
  try {
    if (!memory && !create && (db.pragma("user_version", { simple: true }) as number) === 0) throw new StoreMissingError(path);
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${fsync === false ? "NORMAL" : "FULL"}`);
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > migrations.length) {
      throw new Error(`${label} schema version ${version} is newer than this Berth (${migrations.length})`);
    }
    for (let v = version; v < migrations.length; v++) {
      db.transaction(() => {
        db.exec(migrations[v]!);
        db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function restrictToOwner(path: string): void {
  if (!existsSync(path)) {
    closeSync(openSync(path, "wx", 0o600));
    return;
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file) && (statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
}

/**
 * Why a SQLite error means the file is held by someone else (a long `berth gc` or backup holding
 * the write lock past the 5 s busy timeout), or undefined: a 503 the client may retry, not a 500.
 */
export function sqliteUnavailable(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string" || !/^SQLITE_(BUSY|LOCKED)/.test(code)) return undefined;
  return `another process held the database locked for over 5s (${code})`;
}
