import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { skipUnlessBrowser } from "../helpers/browser.js";

const BENCH = fileURLToPath(new URL("../../bench/ui.js", import.meta.url));

interface Timing {
  usable: number;
  api: number;
}

/**
 * The quick mode of `npm run bench:ui` (2,000 repositories, 200 tags, built in the stores): every
 * page it times reaches its 50th row in chromium and the report names each. A smoke check of the
 * bench, not a timing assertion (the figures are in docs/performance.md).
 */
describe("bench/ui.ts --quick", { skip: skipUnlessBrowser() }, () => {
  it("opens the repository list in each sort and a repository's tags in chromium, cold and warm, and reports each", { timeout: 90_000 }, async () => {
    const child = spawn(process.execPath, [BENCH, "--quick", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, `bench failed:\n${err}`);
    const r = JSON.parse(out.trim().split("\n").pop()!) as { repos: number; tags: number; runs: number; results: { case: string; cold: Timing[]; warm: Timing[] }[] };
    assert.equal(r.repos, 2_000);
    assert.equal(r.tags, 200);
    assert.deepEqual(r.results.map((x) => x.case.split(",")[0]), ["repositories", "repositories", "repositories", "repositories", "tags of big/app (200 tags)"]);
    for (const x of r.results) {
      assert.equal(x.cold.length, r.runs);
      assert.equal(x.warm.length, r.runs);
      for (const t of [...x.cold, ...x.warm]) assert.ok(t.usable > 0 && t.api > 0 && t.api <= t.usable, `${x.case}: the rows came after the API answer (${JSON.stringify(t)})`);
    }
  });
});
