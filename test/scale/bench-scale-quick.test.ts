import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import type { Figure } from "../../bench/scale/results.js";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";
import { run, skipUnlessTools } from "../helpers/tools.js";

const SCRIPT = fileURLToPath(new URL("../../bench/scale.js", import.meta.url));

/**
 * `npm run bench:scale -- --quick`, smaller still: three Berth nodes on S3 + PostgreSQL against
 * distribution on the same Ceph, every workload once. Figures are printed, not asserted (a loaded
 * 2-core machine would turn them into flakes); what is asserted is that each workload ran on both
 * registries without an error, GC included, while a puller kept pulling.
 */
describe("bench:scale --quick", { skip: skipUnlessS3() || skipUnlessPostgres() || skipUnlessTools("docker-registry") }, () => {
  it("runs every workload on both registries without an error", { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "bench-scale-test-"));
    try {
      const json = join(dir, "scale.json");
      const args = ["--quick", "--rounds", "1", "--size", "8", "--small", "24", "--repos", "120", "--gc-blobs", "500", "--gc-blobs-distribution", "500"];
      const out = await run(process.execPath, [SCRIPT, ...args, "--json", json], { timeoutMs: 110_000 });
      process.stdout.write(out.stdout.split("\n").map((l) => `# ${l}`).join("\n") + "\n");
      const result = JSON.parse(await readFile(json, "utf8")) as { figures: Figure[]; errors: string[] };
      assert.deepEqual(result.errors, []);
      const expected = [
        "push, monolithic",
        "push, chunked (4 MiB PATCHes)",
        "pull, through the server",
        "pull, redirected to the object store",
        "small-image pushes (16 at a time)",
        "populate 120 repositories over HTTP (32 at a time)",
        "_catalog?n=100, first page (120 repos)",
        "_catalog full walk, n=100 pages (120 repos)",
        "tags/list of one repository",
        "GC of 500 blobs while serving",
      ];
      for (const workload of expected) {
        const f = result.figures.find((x) => x.workload === workload);
        assert.ok(f, `${workload}: a figure`);
        for (const who of ["berth", "distribution"] as const) {
          assert.equal(f.samples[who].length, 1, `${workload}: one ${who} sample`);
          assert.ok(Number.isFinite(f.samples[who][0]) && f.samples[who][0]! > 0, `${workload}: ${who} figure ${f.samples[who][0]}`);
        }
      }
      const pulls = result.figures.find((x) => x.workload === "GC of 500 blobs while serving: pulls per second during the GC")!;
      assert.ok(pulls.samples.berth[0]! > 0, "the puller kept pulling from Berth during its GC");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
