import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import type { RegistryClient } from "../../src/client/registry-client.js";
import { createSqliteMetadataStore } from "../../src/storage/drivers/sqlite-metadata-store.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage, makeLayer } from "../helpers/fixtures.js";
import { clientOf, pushImage } from "../helpers/push.js";
import { undoSqliteRepositoryStats } from "../helpers/schema-undo.js";

/** What the storage gauges used to count on every refresh: a scan of every table. */
const RECOUNT = `SELECT (SELECT COUNT(*) FROM blobs WHERE state = 'live') AS blobs,
  (SELECT COALESCE(SUM(size), 0) FROM blobs WHERE state = 'live') AS blobBytes,
  (SELECT COUNT(*) FROM manifests) AS manifests, (SELECT COALESCE(SUM(size), 0) FROM manifests) AS manifestBytes,
  (SELECT COUNT(*) FROM repositories) AS repositories, (SELECT COUNT(*) FROM tags) AS tags`;

const recount = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return { ...(db.prepare(RECOUNT).get() as Record<string, number>) };
  } finally {
    db.close();
  }
};

/**
 * The berth_storage_* gauges on the embedded default read totals that triggers keep as rows come
 * and go (a scrape must not scan a million blobs on the server's one thread); they must stay what
 * a full count says through every kind of change.
 */
const embedded = { skip: process.env.BERTH_TEST_BACKEND === "s3-postgres" ? "SQLite only" : false };

describe("storage gauges on SQLite", embedded, () => {
  let b: TestBerth;
  let client: RegistryClient;
  before(async () => {
    b = await startBerth({ BERTH_METRICS_STORAGE_REFRESH: "0s" });
    client = clientOf(b.url);
  });
  after(async () => {
    client.close();
    await b.stop();
  });

  const gauges = async () => {
    const text = await (await fetch(`${b.url}/metrics`)).text();
    const g = (name: string) => Number(new RegExp(`^berth_storage_${name} (\\S+)$`, "m").exec(text)![1]);
    return { blobs: g("blobs"), blobBytes: g("blob_bytes"), manifests: g("manifests"), manifestBytes: g("manifest_bytes"), repositories: g("repositories"), tags: g("tags") };
  };
  const assertExact = async (when: string) => assert.deepEqual(await gauges(), recount(join(b.data, "berth.db")), when);

  it("match a full count after pushes, tag and manifest deletes, a repository deletion and a garbage collection", async () => {
    await assertExact("empty");
    const shared = makeLayer({ "shared.txt": randomUUID() });
    const images = [0, 1, 2].map(() => makeImage({ layers: [shared, makeLayer({ "own.txt": randomUUID() })] }));
    await pushImage(client, "totals/a", "1", images[0]!);
    await pushImage(client, "totals/a", "2", images[1]!);
    await pushImage(client, "totals/b", "1", images[2]!);
    await pushImage(client, "totals/b", "again", images[2]!);
    await assertExact("after pushes (a shared layer, a tag moved onto a pushed manifest)");
    assert.equal((await fetch(`${b.url}/v2/totals/b/manifests/again`, { method: "DELETE" })).status, 202);
    // Deleting a manifest takes its remaining tag with it (ON DELETE CASCADE).
    assert.equal((await fetch(`${b.url}/v2/totals/a/manifests/${images[1]!.manifestDigest}`, { method: "DELETE" })).status, 202);
    await assertExact("after deleting a tag and a tagged manifest");
    assert.equal((await fetch(`${b.url}/api/v1/repositories/totals/b`, { method: "DELETE" })).status, 200);
    await assertExact("after deleting a repository");
    const report = await b.berth.registry.gc.run({ graceMs: 0 });
    assert.ok(report.blobsDeleted >= 2, `the collection deleted blobs (${report.blobsDeleted})`);
    await assertExact("after garbage collection");
    const now = await gauges();
    assert.equal(now.repositories, 1);
    assert.equal(now.tags, 1);
  });
});

describe("storage totals of a database from before they were kept", embedded, () => {
  it("are counted once by the migration, then kept", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-totals-"));
    const path = join(dir, "berth.db");
    try {
      const b = await startBerth({ BERTH_DATA: dir });
      const client = clientOf(b.url);
      await pushImage(client, "old/app", "v1", makeImage());
      client.close();
      await b.stop();
      const truth = recount(path);
      // Back to schema 4: no totals table, no triggers.
      const db = new Database(path);
      undoSqliteRepositoryStats(db);
      for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'storage_totals_%'").all() as { name: string }[]) {
        db.exec(`DROP TRIGGER ${name}`);
      }
      db.exec("DROP TABLE storage_totals");
      db.pragma("user_version = 4");
      db.close();
      const store = createSqliteMetadataStore({ path });
      assert.deepEqual({ ...(await store.storageTotals()) }, truth);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
