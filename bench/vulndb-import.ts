/**
 * Import speed of the offline vulnerability database: writes a synthetic OSV all.zip of N records
 * (default 50,000) made from the real records in test/fixtures/osv (every ecosystem's shape: Debian
 * version lists, Alpine per-branch entries, GHSA CVSS vectors, Go symbols), spread over ~4,000
 * packages plus a few hot ones holding a tenth of all advisories (as linux or chromium do), then
 * times importOsv (what `berth vulndb import` runs): into an empty database, the same file again
 * (nothing changed), and a revision where every advisory changed. Prints a markdown table.
 *
 *   npm run build && node dist/bench/vulndb-import.js [--records 50000]
 *   bash scripts/test-with-services.sh node dist/bench/vulndb-import.js --backend postgres
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createPostgresMetadataStore } from "../src/storage/drivers/postgres-metadata-store.js";
import { createSqliteMetadataStore } from "../src/storage/drivers/sqlite-metadata-store.js";
import type { MetadataStore } from "../src/storage/metadata-store.js";
import { importOsv } from "../src/supply/vulns/import.js";
import { createTestDatabase } from "../test/helpers/services.js";
import { syntheticRecords, writeZip } from "../test/supply/vulndb-fixtures.js";
import { checkBenchArgs } from "./args.js";

checkBenchArgs("node dist/bench/vulndb-import.js [--records N] [--backend sqlite|postgres] (after npm run build; postgres under scripts/test-with-services.sh)", { records: "value", backend: "value" });

const { values } = parseArgs({ options: { records: { type: "string", default: "50000" }, backend: { type: "string", default: "sqlite" } } });
const records = Number(values.records);
const dir = await mkdtemp(join(tmpdir(), "berth-vulndb-bench-"));
let store: MetadataStore;
let drop = async () => {};
if (values.backend === "postgres") {
  const db = await createTestDatabase();
  store = await createPostgresMetadataStore({ url: db.url, create: true });
  drop = db.drop;
} else {
  store = createSqliteMetadataStore({ path: join(dir, "berth.db"), create: true });
}
try {
  const zips = [join(dir, "all.zip"), join(dir, "all-revised.zip")];
  await writeZip(zips[0]!, syntheticRecords(records));
  await writeZip(zips[1]!, syntheticRecords(records, 1));
  const size = (await stat(zips[0]!)).size;
  const rows: string[] = [];
  for (const [label, file] of [["empty database", zips[0]!], ["same file again", zips[0]!], ["every advisory changed", zips[1]!]] as const) {
    const rss = process.memoryUsage().rss;
    const s = await importOsv({ store, files: [file] });
    const changed = s.ecosystems.reduce((n, e) => n + e.added + e.updated, 0);
    rows.push(`| ${label} | ${s.records} | ${changed} | ${(s.elapsedMs / 1000).toFixed(1)} s | ${Math.round((s.records * 1000) / s.elapsedMs)} | ${Math.round((process.memoryUsage().rss - rss) / 2 ** 20)} MiB |`);
  }
  const keys = await store.countSupplyRecords("osv");
  console.log(`OSV import, ${values.backend}: ${records} records, zip ${(size / 2 ** 20).toFixed(1)} MiB, ${keys} package keys\n`);
  console.log("| import | records | added+updated | time | records/s | RSS growth |\n| --- | ---: | ---: | ---: | ---: | ---: |");
  console.log(rows.join("\n"));
} finally {
  await store.close();
  await drop();
  await rm(dir, { recursive: true, force: true });
}
