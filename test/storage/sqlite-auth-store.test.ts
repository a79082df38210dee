import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { createSqliteAuthStore } from "../../src/storage/drivers/sqlite-auth-store.js";
import { SQLITE_AUTH_MIGRATIONS } from "../../src/storage/drivers/sqlite-auth-schema.js";
import { describeAuthStoreContract } from "./auth-store-contract.js";

describeAuthStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "berth-sqlite-auth-"));
  return { store: createSqliteAuthStore({ path: join(dir, "auth.db"), create: true }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe("sqlite AuthStore", () => {
  it("keeps everything across a close and reopen, and records its schema version", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-sqlite-auth-"));
    try {
      const path = join(dir, "data", "auth.db");
      const first = createSqliteAuthStore({ path, fsync: false, create: true });
      await first.createUser({ name: "alice", passwordHash: "scrypt$x", admin: true, createdAt: 1 });
      await first.appendAudit({ time: 2, actor: "alice", action: "user.add", target: "alice", result: "ok" });
      await first.close();
      const second = createSqliteAuthStore({ path, create: true });
      assert.deepEqual(await second.getUser("alice"), { name: "alice", passwordHash: "scrypt$x", admin: true, createdAt: 1 });
      assert.equal((await second.queryAudit({ limit: 10 })).length, 1);
      await second.close();
      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.pragma("user_version", { simple: true }), SQLITE_AUTH_MIGRATIONS.length);
      } finally {
        db.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps password hashes and signing keys readable by the owner alone (0600), also in an older file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-sqlite-auth-"));
    const mode = async (p: string) => (await stat(p)).mode & 0o777;
    try {
      const path = join(dir, "auth.db");
      const store = createSqliteAuthStore({ path, create: true });
      await store.createUser({ name: "alice", passwordHash: "scrypt$x", admin: true, createdAt: 1 });
      for (const file of [path, `${path}-wal`]) assert.equal(await mode(file), 0o600, file);
      await store.close();
      await chmod(path, 0o644);
      (await Promise.resolve(createSqliteAuthStore({ path }))).close();
      assert.equal(await mode(path), 0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a database migrated by a newer Berth", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-sqlite-auth-"));
    try {
      const path = join(dir, "auth.db");
      const db = new Database(path);
      db.pragma(`user_version = ${SQLITE_AUTH_MIGRATIONS.length + 1}`);
      db.close();
      assert.throws(() => createSqliteAuthStore({ path, create: true }), /newer than this Berth/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
