import assert from "node:assert/strict";
import { addBlob } from "../helpers/store.js";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import pg from "pg";
import { digestOf } from "../../src/oci/digest.js";
import { createPostgresMetadataStore } from "../../src/storage/drivers/postgres-metadata-store.js";
import { POSTGRES_MIGRATIONS } from "../../src/storage/drivers/postgres-schema.js";
import { createSqliteMetadataStore } from "../../src/storage/drivers/sqlite-metadata-store.js";
import type { ManifestRecord, MetadataStore } from "../../src/storage/metadata-store.js";
import { createTestDatabase, skipUnlessPostgres } from "../helpers/services.js";
import { describeLifecycleContract } from "./lifecycle-store-contract.js";
import { describeRetentionContract } from "./retention-store-contract.js";
import { describeSupplyContract } from "./supply-store-contract.js";
import { describeMetadataStoreContract } from "./metadata-store-contract.js";
import { describeUsageContract } from "./usage-store-contract.js";
import { describeEventStoreContract } from "./event-store-contract.js";
import { describeBrowseContract } from "./browse-store-contract.js";

describe("postgres", { skip: skipUnlessPostgres() }, () => {
  const create = async () => {
    const db = await createTestDatabase();
    try {
      return { store: await createPostgresMetadataStore({ url: db.url, create: true }), cleanup: db.drop };
    } catch (err) {
      await db.drop();
      throw err;
    }
  };
  describeMetadataStoreContract("postgres", create);
  describeLifecycleContract("postgres", create);
  describeUsageContract("postgres", create);
  describeRetentionContract("postgres", create);
  describeSupplyContract("postgres", create);
  describeEventStoreContract("postgres", create);
  describeBrowseContract("postgres", create);
});

const IMAGE = "application/vnd.oci.image.manifest.v1+json";

function manifest(label: string, blobs: ManifestRecord["blobs"] = [], extra: Partial<ManifestRecord> = {}): ManifestRecord {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, label, blobs }));
  return { digest: digestOf(content), mediaType: IMAGE, content, blobs, children: [], ...extra };
}

type Open = (poolSize: number) => Promise<MetadataStore>;

/**
 * Runs `fn` with a fresh database and stores opened on it (closed and dropped afterwards). `open`
 * connects the whole pool up front, so racing operations really run at once rather than queue
 * behind connection set-up.
 */
async function withDatabase(fn: (url: string, open: Open) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const stores: MetadataStore[] = [];
  const open = async (poolSize: number) => {
    const store = await createPostgresMetadataStore({ url: db.url, poolSize, create: true });
    stores.push(store);
    await Promise.all(Array.from({ length: poolSize }, () => store.ping()));
    return store;
  };
  try {
    await fn(db.url, open);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await db.drop();
  }
}

async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** An empty database whose default collation is ICU en-US (so `'_x' < 'A' < 'a'`), or undefined where the server cannot. */
async function createLinguisticDatabase(): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const admin = process.env.BERTH_TEST_DATABASE_URL!;
  const name = `berth_test_icu_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
  try {
    await sql(
      admin,
      `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`,
    );
  } catch {
    return undefined;
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: async () => void (await sql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)) };
}

/** Whether some session of the database at `url` waits for a lock before `done()` turns true (5 s at most). */
async function sawLockWait(url: string, done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 500 && !done(); i++) {
    const rows = await sql<{ n: number }>(
      url,
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    if (rows[0]!.n > 0) return true;
    await sleep(10);
  }
  return false;
}

const byteOrder = (values: string[]) => [...values].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe("postgres MetadataStore", { skip: skipUnlessPostgres() }, () => {
  it("migrates once when four nodes start at the same time", async () => {
    await withDatabase(async (url, open) => {
      const started = await Promise.allSettled([open(2), open(2), open(2), open(2)]);
      for (const s of started) assert.equal(s.status, "fulfilled", s.status === "rejected" ? String(s.reason) : "");
      const versions = await sql<{ version: number }>(url, "SELECT version FROM schema_migrations ORDER BY version");
      assert.deepEqual(versions.map((r) => r.version), POSTGRES_MIGRATIONS.map((_, i) => i + 1));
      const again = await open(1);
      assert.equal(await again.repositoryExists("nothing/here"), false);
    });
  });

  it("refuses a database migrated by a newer Berth", async () => {
    await withDatabase(async (url, open) => {
      await open(1);
      await sql(url, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", [POSTGRES_MIGRATIONS.length + 1]);
      await assert.rejects(createPostgresMetadataStore({ url, create: true }), /newer than this Berth/);
    });
  });

  it("keeps one winner when two nodes push 20 manifests tagged latest at once", async () => {
    await withDatabase(async (_url, open) => {
      const nodes = [await open(4), await open(4)];
      const layer = digestOf("shared-layer");
      await addBlob(nodes[0]!, "race/app", layer, 7);
      const records = Array.from({ length: 20 }, (_, i) => manifest(`race-${i}`, [layer]));
      const results = await Promise.all(
        records.map((r, i) => nodes[i % 2]!.putManifest("race/app", r, ["latest", `v${i}`])),
      );
      for (const result of results) assert.deepEqual(result, { ok: true, created: true });
      const latest = await nodes[1]!.getManifestByTag("race/app", "latest");
      assert.ok(latest && records.some((r) => r.digest === latest.digest), "latest points at one of the pushed manifests");
      for (const [i, record] of records.entries()) {
        assert.deepEqual((await nodes[i % 2]!.getManifest("race/app", record.digest))?.content, record.content);
        assert.equal((await nodes[0]!.getManifestByTag("race/app", `v${i}`))?.digest, record.digest);
      }
      assert.equal((await nodes[0]!.listTags("race/app", { limit: 100 })).length, 21);
    });
  });

  it("creates a manifest pushed by several nodes at once exactly once", async () => {
    await withDatabase(async (_url, open) => {
      const nodes = [await open(4), await open(4)];
      const layer = digestOf("same-layer");
      await addBlob(nodes[0]!, "same/app", layer, 1);
      const record = manifest("same", [layer]);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => nodes[i % 2]!.putManifest("same/app", record, ["t"])),
      );
      assert.ok(results.every((r) => r.ok));
      assert.equal(results.filter((r) => r.ok && r.created).length, 1);
      assert.equal((await nodes[1]!.getManifestByTag("same/app", "t"))?.digest, record.digest);
    });
  });

  it("creates a new repository once when two nodes link blobs to it at once", async () => {
    await withDatabase(async (url, open) => {
      const nodes = [await open(5), await open(5)];
      const digests = Array.from({ length: 10 }, (_, i) => digestOf(`fresh-${i % 6}`));
      await Promise.all(digests.map((d, i) => addBlob(nodes[i % 2]!, "fresh/repo", d, i % 6)));
      const repos = await sql<{ id: number }>(url, "SELECT id FROM repositories WHERE name = 'fresh/repo'");
      assert.equal(repos.length, 1);
      for (const [i, d] of digests.entries()) {
        assert.deepEqual(await nodes[0]!.getBlobLink("fresh/repo", d), { size: i % 6 });
      }
      assert.deepEqual(await nodes[1]!.listRepositories({ limit: 10 }), ["fresh/repo"]);
    });
  });

  it("pages tags and repositories in byte order, as SQLite does, whatever the database collation", async (t) => {
    const tags = ["A", "a", "a1", "b", "_x", "Z"];
    const repos = ["ord/a-b", "ord/a.b", "ord/a/b", "ord/a_b", "ord/ab", "ord/B"];
    const check = async (store: MetadataStore) => {
      const sqlite = createSqliteMetadataStore({ path: ":memory:", create: true });
      try {
        for (const s of [store, sqlite]) {
          await s.putManifest("ord/x", manifest("ord"), tags);
          for (const [i, repo] of repos.entries()) await addBlob(s, repo, digestOf(`ord-${i}`), 1);
        }
        const expected = byteOrder(tags);
        assert.deepEqual(await store.listTags("ord/x", { limit: 100 }), expected);
        assert.deepEqual(await sqlite.listTags("ord/x", { limit: 100 }), expected);
        const paged: string[] = [];
        for (let page = await store.listTags("ord/x", { limit: 1 }); page.length > 0; ) {
          paged.push(...page);
          page = await store.listTags("ord/x", { limit: 1, last: page[0]! });
        }
        assert.deepEqual(paged, expected);
        assert.deepEqual(await store.listTags("ord/x", { limit: 2, last: "Z" }), ["_x", "a"]);
        const allRepos = byteOrder([...repos, "ord/x"]);
        assert.deepEqual(await store.listRepositories({ limit: 100 }), allRepos);
        assert.deepEqual(await sqlite.listRepositories({ limit: 100 }), allRepos);
        assert.deepEqual(await store.listRepositories({ limit: 2, last: "ord/a.b" }), allRepos.slice(3, 5));
      } finally {
        await sqlite.close();
      }
    };
    await withDatabase(async (_url, open) => check(await open(2)));
    const linguistic = await createLinguisticDatabase();
    if (!linguistic) return t.skip("the server cannot create an ICU-collated database");
    try {
      const store = await createPostgresMetadataStore({ url: linguistic.url, poolSize: 2, create: true });
      try {
        await check(store);
      } finally {
        await store.close();
      }
    } finally {
      await linguistic.drop();
    }
  });

  it("sees a blob link or child manifest deleted by a transaction in flight as missing", async () => {
    await withDatabase(async (url, open) => {
      const store = await open(2);
      const layer = digestOf("locked-layer");
      await addBlob(store, "lock/app", layer, 3);
      const child = manifest("locked-child");
      await store.putManifest("lock/app", child, []);
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        const index = manifest("index", [], { children: [child.digest] });
        for (const [remove, record, expected] of [
          ["DELETE FROM repository_blobs WHERE digest = $1", manifest("needs-layer", [layer]), { ok: false, missingBlob: layer }],
          ["DELETE FROM manifests WHERE digest = $1", index, { ok: false, missingManifest: child.digest }],
        ] as const) {
          await other.query("BEGIN");
          await other.query(remove, [record.blobs[0] ?? record.children[0]]);
          const put = store.putManifest("lock/app", record, ["t"]);
          let settled = false;
          void put.then(() => (settled = true), () => (settled = true));
          assert.ok(await sawLockWait(url, () => settled), "the check must wait for the delete to commit or roll back");
          await other.query("COMMIT");
          assert.deepEqual(await put, expected);
          assert.equal(await store.getManifest("lock/app", record.digest), undefined);
        }
      } finally {
        await other.end();
      }
    });
  });

  it("writes nothing, not even the repository, when a push is refused", async () => {
    await withDatabase(async (_url, open) => {
      const store = await open(1);
      const missing = digestOf("never-linked");
      const result = await store.putManifest("refused/new", manifest("r", [missing]), ["t"]);
      assert.deepEqual(result, { ok: false, missingBlob: missing });
      assert.equal(await store.repositoryExists("refused/new"), false);
    });
  });

  it("refuses to move an immutable tag that a transaction in flight creates, once it commits", async () => {
    await withDatabase(async (url, open) => {
      const store = await open(2);
      const [theirs, ours] = [manifest("theirs"), manifest("ours")];
      await store.putManifest("imm/app", theirs, []);
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        await other.query("BEGIN");
        await other.query(
          "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES ((SELECT id FROM repositories WHERE name = 'imm/app'), 'v1', $1, 0)",
          [theirs.digest],
        );
        const put = store.putManifest("imm/app", ours, ["v1"], { immutableTags: ["v1"] });
        let settled = false;
        void put.then(() => (settled = true), () => (settled = true));
        // A check that only reads would see no tag yet and let the upsert move it after the commit.
        assert.ok(await sawLockWait(url, () => settled), "the push must wait for the tag's creator to commit or roll back");
        await other.query("COMMIT");
        assert.deepEqual(await put, { ok: false, immutableTag: "v1" });
        assert.equal((await store.getManifestByTag("imm/app", "v1"))?.digest, theirs.digest);
        assert.equal(await store.getManifest("imm/app", ours.digest), undefined);
      } finally {
        await other.end();
      }
    });
  });

  it("leaves a tag that a transaction in flight moves while retention deletes it", async () => {
    await withDatabase(async (url, open) => {
      const store = await open(2);
      const [a, b] = [manifest("ret-a"), manifest("ret-b")];
      await store.putManifest("ret/app", a, ["t"]);
      await store.putManifest("ret/app", b, []);
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        await other.query("BEGIN");
        await other.query("UPDATE tags SET digest = $1 WHERE name = 't'", [b.digest]);
        const del = store.deleteTagIf("ret/app", "t", a.digest);
        let settled = false;
        void del.then(() => (settled = true), () => (settled = true));
        assert.ok(await sawLockWait(url, () => settled), "the delete must wait for the move to commit or roll back");
        await other.query("COMMIT");
        assert.equal(await del, false);
        assert.equal((await store.getManifestByTag("ret/app", "t"))?.digest, b.digest);
      } finally {
        await other.end();
      }
    });
  });

  it("deletes a repository only after a push in flight to it commits, and takes that push with it", async () => {
    await withDatabase(async (url, open) => {
      const store = await open(2);
      const first = manifest("rm-first");
      await store.putManifest("rm/app", first, ["v1"]);
      const late = manifest("rm-late");
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        await other.query("BEGIN");
        // As a push's transaction does: the manifest row's foreign key holds the repository row.
        await other.query(
          `INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at)
           VALUES ((SELECT id FROM repositories WHERE name = 'rm/app'), $1, $2, 1, '\\x00', 0)`,
          [late.digest, IMAGE],
        );
        const del = store.deleteRepository("rm/app");
        let settled = false;
        void del.then(() => (settled = true), () => (settled = true));
        assert.ok(await sawLockWait(url, () => settled), "the delete must wait for the push to commit or roll back");
        await other.query("COMMIT");
        assert.deepEqual(await del, { ok: true, tags: 1, manifests: 2, links: 0 });
        assert.deepEqual(await sql(url, "SELECT digest FROM manifests"), [], "the late manifest went with the repository");
      } finally {
        await other.end();
      }
    });
  });

  it("lets a link waiting on a repository delete in flight create the repository anew", async () => {
    await withDatabase(async (url, open) => {
      const store = await open(2);
      const layer = digestOf("rm-layer");
      await addBlob(store, "rm/relink", layer, 4);
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        await other.query("BEGIN");
        await other.query("SELECT id FROM repositories WHERE name = 'rm/relink' FOR UPDATE");
        await other.query("DELETE FROM repository_blobs WHERE repository_id = (SELECT id FROM repositories WHERE name = 'rm/relink')");
        await other.query("DELETE FROM repositories WHERE name = 'rm/relink'");
        const link = store.linkBlob("rm/relink", layer);
        let settled = false;
        void link.then(() => (settled = true), () => (settled = true));
        assert.ok(await sawLockWait(url, () => settled), "the link must wait for the delete");
        await other.query("COMMIT");
        assert.equal(await link, 4, "no foreign-key failure: the repository is created again");
        assert.deepEqual(await store.getBlobLink("rm/relink", layer), { size: 4 });
      } finally {
        await other.end();
      }
    });
  });

  it("returns BIGINT columns as numbers without changing pg's global parsers", async () => {
    await withDatabase(async (_url, open) => {
      const store = await open(1);
      const big = 5 * 1024 ** 3;
      await addBlob(store, "big/app", digestOf("big"), big);
      assert.deepEqual(await store.getBlob(digestOf("big")), { size: big });
      const record = manifest("big", [digestOf("big")]);
      await store.putManifest("big/app", record, []);
      assert.equal(typeof (await store.getManifest("big/app", record.digest))?.createdAt, "number");
      const upload = { id: "u1", repository: "big/app", algorithm: "sha256", createdAt: 1, updatedAt: 2 ** 40 } as const;
      await store.createUpload(upload);
      assert.deepEqual(await store.getUpload("u1"), upload);
      assert.equal(pg.types.getTypeParser(20, "text")("7"), "7");
    });
  });
});
