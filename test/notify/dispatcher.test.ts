import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "node:test";
import { createPostgresMetadataStore } from "../../src/storage/drivers/postgres-metadata-store.js";
import { createSqliteMetadataStore } from "../../src/storage/drivers/sqlite-metadata-store.js";
import { createTestDatabase, skipUnlessPostgres } from "../helpers/services.js";
import { describeDispatcher } from "./dispatcher-suite.js";

describeDispatcher("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "berth-dispatcher-"));
  return { store: createSqliteMetadataStore({ path: join(dir, "berth.db"), create: true }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe("postgres", { skip: skipUnlessPostgres() }, () => {
  describeDispatcher("postgres", async () => {
    const db = await createTestDatabase();
    return { store: await createPostgresMetadataStore({ url: db.url, create: true }), cleanup: db.drop };
  });
});
