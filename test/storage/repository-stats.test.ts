import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { digestOf, type Digest } from "../../src/oci/digest.js";
import { createPostgresMetadataStore } from "../../src/storage/drivers/postgres-metadata-store.js";
import { createSqliteMetadataStore } from "../../src/storage/drivers/sqlite-metadata-store.js";
import type { ManifestRecord, MetadataStore } from "../../src/storage/metadata-store.js";
import type { RepositoryStats } from "../../src/storage/browse-store.js";
import { createTestDatabase, skipUnlessPostgres } from "../helpers/services.js";
import { undoPostgresRepositoryStats, undoSqliteRepositoryStats } from "../helpers/schema-undo.js";
import { addBlob } from "../helpers/store.js";

const IMAGE = "application/vnd.oci.image.manifest.v1+json";

function record(blobs: Digest[] = []): ManifestRecord {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, n: randomUUID(), blobs }));
  return { digest: digestOf(content), mediaType: IMAGE, content, blobs, children: [] };
}

/** Two repositories with shared and own layers, moved and deleted tags, a deleted manifest. */
async function fill(store: MetadataStore): Promise<void> {
  const shared = digestOf("shared");
  for (const repo of ["m/one", "m/two"]) {
    const own = digestOf(`own ${repo}`);
    await addBlob(store, repo, shared, 1000);
    await addBlob(store, repo, own, repo.length);
    const [a, b] = [record([shared, own]), record([own])];
    await store.putManifest(repo, a, ["latest", "v1"]);
    await store.putManifest(repo, b, ["latest"]);
    await store.putManifest(repo, record(), ["gone"]);
    await store.deleteTag(repo, "v1");
  }
  await store.deleteManifest("m/two", (await store.getManifestByTag("m/two", "gone"))!.digest);
}

const statsOf = async (store: MetadataStore): Promise<(RepositoryStats | undefined)[]> =>
  Promise.all(["m/one", "m/two"].map((r) => store.repositoryStats(r)));

/** The numbers as a full count over the rows says (what migration 6 / 5 computes). */
const numbers = (stats: (RepositoryStats | undefined)[]) => stats.map((s) => s && { name: s.name, size: s.size, tags: s.tags, manifests: s.manifests });

describe("per-repository numbers, counted by the migration for what is already stored", () => {
  it("sqlite", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-stats-"));
    const path = join(dir, "berth.db");
    try {
      const store = createSqliteMetadataStore({ path, create: true });
      await fill(store);
      const kept = await statsOf(store);
      await store.close();
      const db = new Database(path);
      undoSqliteRepositoryStats(db);
      db.close();
      const migrated = createSqliteMetadataStore({ path });
      assert.deepEqual(numbers(await statsOf(migrated)), numbers(kept));
      assert.ok((await statsOf(migrated)).every((s) => s!.pushedAt! > 0));
      await migrated.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("postgres", { skip: skipUnlessPostgres() }, async () => {
    const db = await createTestDatabase();
    try {
      const store = await createPostgresMetadataStore({ url: db.url, create: true });
      await fill(store);
      const kept = await statsOf(store);
      await store.close();
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await undoPostgresRepositoryStats(client);
      await client.end();
      const migrated = await createPostgresMetadataStore({ url: db.url });
      assert.deepEqual(numbers(await statsOf(migrated)), numbers(kept));
      await migrated.close();
    } finally {
      await db.drop();
    }
  });
});

describe("per-repository numbers on PostgreSQL under concurrent writers", { skip: skipUnlessPostgres() }, () => {
  it("stay exact, without deadlocks, while two nodes push, move and delete the same tags at once", async () => {
    const db = await createTestDatabase();
    const nodes = [await createPostgresMetadataStore({ url: db.url, create: true, poolSize: 4 }), await createPostgresMetadataStore({ url: db.url, poolSize: 4 })];
    try {
      const layer = digestOf("race layer");
      await addBlob(nodes[0]!, "race/app", layer, 500);
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        const store = nodes[i % 2]!;
        work.push(store.putManifest("race/app", record([layer]), ["a", "b", `t${i}`]));
        if (i % 3 === 0) work.push(store.deleteTag("race/app", i % 2 ? "a" : "b"));
        if (i % 5 === 0) work.push(store.countPulls([{ repo: "race/app", tag: "a", count: 1 }]));
      }
      const settled = await Promise.allSettled(work);
      assert.deepEqual(settled.filter((s) => s.status === "rejected"), []);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const truth = (
        await client.query<{ size: string; tags: string; manifests: string }>(
          `SELECT (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest)
             + (SELECT COALESCE(SUM(size), 0) FROM manifests) AS size,
           (SELECT COUNT(*) FROM tags) AS tags, (SELECT COUNT(*) FROM manifests) AS manifests`,
        )
      ).rows[0]!;
      await client.end();
      const stats = (await nodes[0]!.repositoryStats("race/app"))!;
      assert.deepEqual([stats.size, stats.tags, stats.manifests], [Number(truth.size), Number(truth.tags), Number(truth.manifests)]);
    } finally {
      for (const n of nodes) await n.close();
      await db.drop();
    }
  });
});
