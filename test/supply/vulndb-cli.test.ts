import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BERTH_BIN, spawnBerth } from "../helpers/berth.js";
import { run } from "../helpers/tools.js";
import { allOsvFixtures, osvFixture, recordEntry, writeZip } from "./vulndb-fixtures.js";

/** `berth vulndb import|status` as an operator runs them, from another directory, beside a registry `berth serve` made. */
describe("berth vulndb", () => {
  let root: string;
  let data: string;
  let cwd: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-vulndb-cli-"));
    data = join(root, "data");
    cwd = join(root, "elsewhere");
    await mkdir(cwd);
    const server = await spawnBerth(data, { BERTH_LOG_LEVEL: "warn" });
    assert.equal(await server.stop(), 0);
  });
  after(() => rm(root, { recursive: true, force: true }));

  const berth = (...args: string[]) => run(process.execPath, [BERTH_BIN, ...args, "--data", data], { cwd, allowFail: true, timeoutMs: 60_000 });
  const status = async () => JSON.parse((await berth("vulndb", "status", "--json")).stdout) as { generation: number; ecosystems: { ecosystem: string; records: number; source: string }[] };

  it("--help only helps, a mistyped flag is exit 2, a missing file is exit 1: nothing imported by any", async () => {
    const zip = join(root, "all.zip");
    await writeZip(zip, allOsvFixtures().map(recordEntry));

    const help = await berth("vulndb", "import", zip, "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: berth vulndb import \[options\] <file\.\.\.>/);
    const typo = await berth("vulndb", "import", zip, "--jsn");
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /^berth: vulndb import: unknown option '--jsn' \(did you mean --json\?\)[^\n]*\n$/);
    const missing = await berth("vulndb", "import", zip, join(root, "Debian-all.zip"));
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `berth vulndb import: ${join(root, "Debian-all.zip")}: no such file; nothing imported\n`);
    const noRegistry = await run(process.execPath, [BERTH_BIN, "vulndb", "import", zip, "--data", join(root, "nowhere")], { cwd, allowFail: true });
    assert.equal(noRegistry.code, 2);
    assert.match(noRegistry.stderr, /^berth: no registry at .*nowhere.*--data DIR/);

    assert.deepEqual(await status(), { generation: 0, ecosystems: [] });
    assert.match((await berth("vulndb", "status")).stdout, /no vulnerability database imported yet/);
  });

  it("imports, names malformed records, shows the status, and re-imports in place", async () => {
    const zip = join(root, "all.zip");
    await writeZip(zip, [...allOsvFixtures().map(recordEntry), { name: "GHSA-cut.json", text: '{"id": "GHSA-cut"' }]);
    const first = await berth("vulndb", "import", zip);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^ECOSYSTEM +RECORDS +ADDED +UPDATED +MALFORMED +IN DATABASE$/m);
    assert.match(first.stdout, /^npm +2 +2 +0 +0 +2$/m);
    assert.match(first.stdout, /^\(unknown\) +0 +0 +0 +1 +0$/m);
    assert.match(first.stdout, /^Debian +1 +1 +0 +0 +1$/m);
    assert.match(first.stdout, /9 records from 1 file in [\d.]+ s.*; 1 malformed; database generation 1$/m);
    assert.match(first.stderr, /malformed: all\.zip GHSA-cut\.json: .*not JSON/);

    const s = await status();
    assert.equal(s.generation, 1);
    assert.deepEqual(s.ecosystems.map((e) => [e.ecosystem, e.records, e.source]), [
      ["Alpine", 1, "all.zip"], ["Debian", 1, "all.zip"], ["Go", 1, "all.zip"], ["PyPI", 2, "all.zip"], ["Ubuntu", 1, "all.zip"], ["npm", 2, "all.zip"],
    ]);
    const table = (await berth("vulndb", "status")).stdout;
    assert.match(table, /^Debian +1 +\d{4}-\d\d-\d\dT[\d:.]+Z +all\.zip$/m);
    assert.match(table, /^database generation 1$/m);

    const dla = osvFixture("Debian", "DLA-3008-1");
    dla.modified = "2026-04-01T00:00:00Z";
    const update = join(root, "DLA-3008-1.json");
    await writeFile(update, JSON.stringify(dla));
    const second = await berth("vulndb", "import", update, "--json");
    assert.equal(second.code, 0, second.stderr);
    const summary = JSON.parse(second.stdout) as { generation: number; ecosystems: { ecosystem: string; updated: number }[] };
    assert.equal(summary.generation, 2);
    assert.deepEqual(summary.ecosystems.map((e) => [e.ecosystem, e.updated]), [["Debian", 1]]);
    assert.equal((await status()).ecosystems.find((e) => e.ecosystem === "Debian")?.source, "DLA-3008-1.json");
  });
});
