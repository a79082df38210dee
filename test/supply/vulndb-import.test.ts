import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteMetadataStore } from "../../src/storage/drivers/sqlite-metadata-store.js";
import { describeVulndbImport } from "./vulndb-import-suite.js";

describeVulndbImport("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "berth-vulndb-sqlite-"));
  return { store: createSqliteMetadataStore({ path: join(dir, "berth.db"), create: true }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
