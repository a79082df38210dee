import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import type { AuthStore } from "../../src/storage/auth-store.js";
import { POSTGRES_AUTH_MIGRATIONS } from "../../src/storage/drivers/postgres-auth-schema.js";
import { createPostgresAuthStore } from "../../src/storage/drivers/postgres-auth-store.js";
import { createPostgresMetadataStore } from "../../src/storage/drivers/postgres-metadata-store.js";
import { createTestDatabase, skipUnlessPostgres } from "../helpers/services.js";
import { describeAuthStoreContract } from "./auth-store-contract.js";

describe("postgres auth", { skip: skipUnlessPostgres() }, () => {
  describeAuthStoreContract("postgres", async () => {
    const db = await createTestDatabase();
    try {
      return { store: await createPostgresAuthStore({ url: db.url, create: true }), cleanup: db.drop };
    } catch (err) {
      await db.drop();
      throw err;
    }
  });
});

async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Runs `fn` with a fresh database, closing the stores it opens and dropping the database afterwards. */
async function withDatabase(fn: (url: string, open: (poolSize: number) => Promise<AuthStore>) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const stores: AuthStore[] = [];
  const open = async (poolSize: number) => {
    const store = await createPostgresAuthStore({ url: db.url, poolSize, create: true });
    stores.push(store);
    return store;
  };
  try {
    await fn(db.url, open);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await db.drop();
  }
}

describe("postgres AuthStore", { skip: skipUnlessPostgres() }, () => {
  it("migrates once when four nodes start at the same time", async () => {
    await withDatabase(async (url, open) => {
      const started = await Promise.allSettled([open(2), open(2), open(2), open(2)]);
      for (const s of started) assert.equal(s.status, "fulfilled", s.status === "rejected" ? String(s.reason) : "");
      const versions = await sql<{ version: number }>(url, "SELECT version FROM auth_schema_migrations ORDER BY version");
      assert.deepEqual(versions.map((r) => r.version), POSTGRES_AUTH_MIGRATIONS.map((_, i) => i + 1));
      const stores = started.map((s) => (s as PromiseFulfilledResult<AuthStore>).value);
      assert.equal(await stores[0]!.createUser({ name: "racer", passwordHash: "h", admin: false, createdAt: 1 }), true);
      const again = await Promise.all(stores.map((s) => s.createUser({ name: "racer", passwordHash: "h", admin: false, createdAt: 2 })));
      assert.deepEqual(again, [false, false, false, false]);
      assert.equal((await stores[3]!.getUser("racer"))?.createdAt, 1);
    });
  });

  it("shares a database with the metadata store, each migrating on its own", async () => {
    await withDatabase(async (url, open) => {
      const [metadata, auth] = await Promise.all([createPostgresMetadataStore({ url, poolSize: 1, create: true }), open(1)]);
      try {
        assert.equal(await metadata.repositoryExists("shared/app"), false);
        assert.deepEqual(await auth.listUsers(), []);
        const tables = await sql<{ n: number }>(
          url,
          "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('schema_migrations', 'auth_schema_migrations')",
        );
        assert.equal(tables[0]!.n, 2);
      } finally {
        await metadata.close();
      }
    });
  });

  it("refuses a database migrated by a newer Berth", async () => {
    await withDatabase(async (url, open) => {
      await open(1);
      await sql(url, "INSERT INTO auth_schema_migrations (version, applied_at) VALUES ($1, 0)", [POSTGRES_AUTH_MIGRATIONS.length + 1]);
      await assert.rejects(createPostgresAuthStore({ url, create: true }), /newer than this Berth/);
    });
  });

  it("lets exactly one of several nodes create the same live token name", async () => {
    await withDatabase(async (_url, open) => {
      const nodes = [await open(4), await open(4)];
      await nodes[0]!.createUser({ name: "robots", passwordHash: "h", admin: false, createdAt: 1 });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          nodes[i % 2]!.createToken({ id: `race${i}`, name: "ci", owner: "robots", secretHash: "s", scopes: [], createdAt: i }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await nodes[1]!.listTokens("robots")).length, 1);
    });
  });
});
