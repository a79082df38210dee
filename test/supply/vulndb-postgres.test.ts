import { describe } from "node:test";
import { createPostgresMetadataStore } from "../../src/storage/drivers/postgres-metadata-store.js";
import { createTestDatabase, skipUnlessPostgres } from "../helpers/services.js";
import { describeVulndbImport } from "./vulndb-import-suite.js";

describe("vulnerability database on PostgreSQL", { skip: skipUnlessPostgres() }, () => {
  describeVulndbImport("postgres", async () => {
    const db = await createTestDatabase();
    try {
      return { store: await createPostgresMetadataStore({ url: db.url, create: true }), cleanup: db.drop };
    } catch (err) {
      await db.drop();
      throw err;
    }
  });
});
