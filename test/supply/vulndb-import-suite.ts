import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MetadataStore } from "../../src/storage/metadata-store.js";
import { importOsv, type ImportSummary } from "../../src/supply/vulns/import.js";
import { OSV_IDS_KIND, OSV_KIND, osvStatus, type CompactAdvisory } from "../../src/supply/vulns/osv-keys.js";
import { allOsvFixtures, osvFixture, recordEntry, writeAdvisoryUpdate, writeZip } from "./vulndb-fixtures.js";

export type CreateStore = () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>;

const advisories = async (store: MetadataStore, key: string) => {
  const r = await store.getSupplyRecord(OSV_KIND, key);
  return r ? (JSON.parse(r.value) as CompactAdvisory[]) : undefined;
};
const eco = (s: ImportSummary, name: string) => s.ecosystems.find((e) => e.ecosystem === name);

/** What `berth vulndb import` does to the store, run against each metadata driver. */
export function describeVulndbImport(driver: string, create: CreateStore): void {
  describe(`OSV import into the ${driver} SupplyStore`, () => {
    let store: MetadataStore;
    let cleanup: () => Promise<void>;
    let dir: string;
    before(async () => {
      ({ store, cleanup } = await create());
      dir = await mkdtemp(join(tmpdir(), "berth-vulndb-"));
    });
    after(async () => {
      await store.close();
      await cleanup();
      await rm(dir, { recursive: true, force: true });
    });

    it("imports an all.zip of real records by ecosystem and package, then re-imports in place", async () => {
      const zip = join(dir, "all.zip");
      await writeZip(zip, allOsvFixtures().map(recordEntry));
      const first = await importOsv({ store, files: [zip] });
      assert.equal(first.records, 8);
      assert.equal(first.malformed, 0);
      assert.equal(first.generation, 1);
      assert.deepEqual(eco(first, "npm"), { ecosystem: "npm", records: 2, added: 2, updated: 0, malformed: 0, total: 2 });
      assert.deepEqual(eco(first, "PyPI"), { ecosystem: "PyPI", records: 2, added: 2, updated: 0, malformed: 0, total: 2 });

      const openssl = await advisories(store, "Debian/openssl");
      assert.deepEqual(openssl?.map((a) => a.id), ["DLA-3008-1"]);
      assert.deepEqual(openssl?.[0]?.upstream, ["CVE-2022-1292", "DEBIAN-CVE-2022-1292"]);
      // One key per package, holding only that package's entries; GIT ranges and references left out.
      assert.deepEqual((await advisories(store, "npm/@cypress/request"))?.[0]?.affected.map((a) => a.package.name), ["@cypress/request"]);
      const flask = (await advisories(store, "PyPI/flask"))![0]!;
      assert.deepEqual(flask.affected[0]!.ranges!.map((r) => r.type), ["ECOSYSTEM"]);
      assert.equal("references" in flask, false);
      assert.equal((await advisories(store, "Alpine/musl"))?.[0]?.affected.length, 9);
      assert.equal((await advisories(store, "Ubuntu/openssh"))?.[0]?.affected.length, 2);

      const status = await osvStatus(store);
      assert.equal(status.generation, 1);
      const debian = status.ecosystems.find((e) => e.ecosystem === "Debian");
      assert.equal(debian?.records, 1);
      assert.equal(debian?.source, "all.zip");

      // The same file again: nothing rewritten, the generation (and so every cached result) kept.
      const again = await importOsv({ store, files: [zip] });
      assert.equal(again.generation, 1);
      assert.deepEqual(
        again.ecosystems.map((e) => [e.ecosystem, e.added, e.updated]),
        again.ecosystems.map((e) => [e.ecosystem, 0, 0]),
      );

      // A fix moved, and an advisory that stops naming one of its packages.
      const update = join(dir, "update.zip");
      await writeAdvisoryUpdate(update);
      const second = await importOsv({ store, files: [update] });
      assert.equal(second.generation, 2);
      assert.deepEqual(eco(second, "Debian"), { ecosystem: "Debian", records: 1, added: 0, updated: 1, malformed: 0, total: 1 });
      assert.deepEqual(eco(second, "npm"), { ecosystem: "npm", records: 1, added: 0, updated: 1, malformed: 0, total: 2 });
      const moved = (await advisories(store, "Debian/openssl"))!;
      assert.equal(moved.length, 1);
      assert.deepEqual(moved[0]!.affected[0]!.ranges![0]!.events, [{ introduced: "0" }, { fixed: "1.1.0l-1~deb9u7" }]);
      assert.equal(await advisories(store, "npm/@cypress/request"), undefined);
      assert.deepEqual((await advisories(store, "npm/request"))?.map((a) => a.id), ["GHSA-p8p7-x288-28g6"]);
      assert.deepEqual(JSON.parse((await store.getSupplyRecord(OSV_IDS_KIND, "GHSA-p8p7-x288-28g6"))!.value).keys, ["npm/request"]);
      // Untouched advisories are still there.
      assert.deepEqual((await advisories(store, "npm/ansi-html"))?.map((a) => a.id), ["GHSA-whgm-jr23-g3j9"]);
    });

    it("counts and names malformed records without stopping, and reads plain JSON files", async () => {
      const good = osvFixture("npm", "GHSA-whgm-jr23-g3j9");
      good.id = "GHSA-good-0001";
      const badEvent = osvFixture("npm", "GHSA-whgm-jr23-g3j9");
      badEvent.id = "GHSA-bad-event";
      (badEvent.affected[0]!.ranges as { events: unknown[] }[])[0]!.events.push({ patched: "1.0.0" });
      const noId = osvFixture("npm", "GHSA-whgm-jr23-g3j9");
      delete (noId as Record<string, unknown>).id;
      const zip = join(dir, "mixed.zip");
      const entries = [
        { name: "GHSA-truncated.json", text: '{"id": "GHSA-truncated", "affected": [' },
        recordEntry(good),
        recordEntry(badEvent),
        { name: "no-id.json", text: JSON.stringify(noId) },
        { name: "README.txt", text: "not a record" },
      ];
      // A stored (uncompressed) entry with one byte changed after the archive was written: its CRC no longer matches.
      const corrupt = osvFixture("npm", "GHSA-whgm-jr23-g3j9");
      corrupt.id = "GHSA-corrupted";
      await writeZip(zip, [...entries, { ...recordEntry(corrupt), store: true }]);
      const bytes = await readFile(zip);
      const at = bytes.indexOf("Uncontrolled Resource Consumption", bytes.indexOf("GHSA-corrupted.json"));
      bytes[at] = "u".charCodeAt(0);
      await writeFile(zip, bytes);
      const plain = join(dir, "PYSEC-2023-62.json");
      await writeFile(plain, JSON.stringify(osvFixture("PyPI", "PYSEC-2023-62")));
      const progress: number[] = [];
      const summary = await importOsv({ store, files: [zip, plain], progressEvery: 2, onProgress: (p) => progress.push(p.records) });
      assert.equal(summary.records, 6);
      assert.equal(summary.malformed, 4);
      assert.equal(eco(summary, "npm")?.malformed, 4);
      assert.deepEqual(summary.firstMalformed.map((m) => [m.entry, m.id]), [["GHSA-truncated.json", undefined], ["GHSA-bad-event.json", "GHSA-bad-event"], ["no-id.json", undefined], ["GHSA-corrupted.json", undefined]]);
      assert.match(summary.firstMalformed[3]!.reason, /CRC mismatch/);
      assert.match(summary.firstMalformed[0]!.reason, /not JSON/);
      assert.match(summary.firstMalformed[1]!.reason, /event/);
      assert.match(summary.firstMalformed[2]!.reason, /id/);
      assert.deepEqual(progress, [2, 4, 5, 1]);
      assert.deepEqual((await advisories(store, "npm/ansi-html"))?.map((a) => a.id), ["GHSA-good-0001", "GHSA-whgm-jr23-g3j9"]);
      assert.equal(await store.getSupplyRecord(OSV_IDS_KIND, "GHSA-bad-event"), undefined);
    });

    it("merges many small flushes into one package's value, each advisory whole and sorted", async () => {
      const records = Array.from({ length: 30 }, (_, i) => {
        const r = osvFixture("npm", "GHSA-whgm-jr23-g3j9");
        r.id = `GHSA-merge-${String(29 - i).padStart(3, "0")}`;
        (r.affected[0]!.package as { name: string }).name = "merge-pkg";
        return r;
      });
      const zip = join(dir, "merge.zip");
      await writeZip(zip, records.map(recordEntry));
      const summary = await importOsv({ store, files: [zip], pendingBytes: 1500, batchKeys: 3 });
      assert.equal(eco(summary, "npm")?.added, 30);
      const stored = (await advisories(store, "npm/merge-pkg"))!;
      assert.deepEqual(stored.map((a) => a.id), records.map((r) => r.id).sort());
      assert.deepEqual(stored[0]!.affected[0]!.ranges, [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "0.0.8" }] }]);
    });

    it("removes a withdrawn advisory from every package it named", async () => {
      const withdrawn = osvFixture("Go", "GO-2022-0493");
      withdrawn.withdrawn = "2026-05-01T00:00:00Z";
      withdrawn.modified = "2026-05-01T00:00:00Z";
      const file = join(dir, "GO-2022-0493.json");
      await writeFile(file, JSON.stringify(withdrawn));
      assert.ok(await advisories(store, "Go/stdlib"));
      const before = await store.supplyGeneration(OSV_KIND);
      const summary = await importOsv({ store, files: [file] });
      assert.equal(summary.generation, before + 1);
      assert.deepEqual(eco(summary, "Go"), { ecosystem: "Go", records: 1, added: 0, updated: 1, malformed: 0, total: 0 });
      assert.equal(await advisories(store, "Go/stdlib"), undefined);
      assert.equal(await advisories(store, "Go/golang.org/x/sys"), undefined);
    });
  });
}
