/**
 * Berth and distribution 2.8.2 at scale, side by side on one Ceph radosgw: three Berth nodes on a
 * shared bucket + PostgreSQL database against three distribution nodes on a shared bucket (plus,
 * for each, a node redirecting blob GETs to the object store). Clients go round-robin over the
 * nodes. Workloads: big-blob pushes (monolithic, chunked) and pulls (through the server,
 * redirected), small-image pushes, `_catalog`/`tags/list` over 10,000 repositories, and GC of
 * 100,000 blobs while a puller keeps pulling. Prints markdown tables, medians and ratios.
 *
 *   npm run bench:scale -- [--quick] [--only transfer,small,catalog,gc] [--rounds 3] [--size 256]
 *     [--chunk 16] [--small 300] [--repos 10000] [--gc-blobs 100000] [--gc-blobs-distribution 20000]
 *     [--nodes 3] [--walk-budget 120] [--json FILE]
 *
 * Without BERTH_TEST_S3_* / BERTH_TEST_DATABASE_URL in the environment it runs itself under
 * scripts/test-with-services.sh, which starts a throwaway Ceph and PostgreSQL.
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkBenchArgs } from "./args.js";
import { s3Settings } from "../test/helpers/services.js";
import { registryBinary } from "./servers.js";
import { closeAgent, MiB } from "./workloads.js";
import { listingRound, populate, type CatalogShape } from "./scale/catalog.js";
import { startBerthCluster, startDistributionCluster, type Cluster } from "./scale/cluster.js";
import { berthGc, distributionGc } from "./scale/gc-serving.js";
import { closeHttp } from "./scale/http.js";
import { createResults, goalLines, markdown } from "./scale/results.js";
import { smallImagesRound, transferRound } from "./scale/transfer.js";

checkBenchArgs("npm run bench:scale -- [--quick] [--only transfer,small,catalog,gc] [--rounds N] [--size MiB] [--chunk MiB] [--small N] [--repos N] [--gc-blobs N] [--gc-blobs-distribution N] [--nodes N] [--walk-budget S] [--json FILE]", { quick: "switch", only: "value", rounds: "value", size: "value", chunk: "value", small: "value", repos: "value", "gc-blobs": "value", "gc-blobs-distribution": "value", nodes: "value", "walk-budget": "value", json: "value" });
const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string", default: "transfer,small,catalog,gc" },
    rounds: { type: "string" },
    size: { type: "string" },
    chunk: { type: "string" },
    small: { type: "string" },
    repos: { type: "string" },
    "gc-blobs": { type: "string" },
    "gc-blobs-distribution": { type: "string" },
    nodes: { type: "string", default: "3" },
    "walk-budget": { type: "string" },
    json: { type: "string" },
  },
});

if (!s3Settings() || !process.env.BERTH_TEST_DATABASE_URL) {
  const script = fileURLToPath(new URL("../../scripts/test-with-services.sh", import.meta.url));
  // Big blobs pushed and deleted round after round: Ceph's memstore needs more than the tests' 3 GiB.
  const env = { BERTH_CEPH_MEMSTORE_BYTES: String(8 * 1024 ** 3), ...process.env };
  const child = spawn("bash", [script, process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit", env });
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  await main();
}

async function main(): Promise<void> {
  const quick = values.quick!;
  const num = (v: string | undefined, full: number, q: number) => (v !== undefined ? Number(v) : quick ? q : full);
  const rounds = num(values.rounds, 3, 2);
  const size = num(values.size, 256, 16) * MiB;
  const chunk = num(values.chunk, 16, 4) * MiB;
  const small = num(values.small, 300, 48);
  const catalog: CatalogShape = { repos: num(values.repos, 10_000, 300), concurrency: 32, walkBudget: num(values["walk-budget"], 120, 30) };
  const gcBlobs = num(values["gc-blobs"], 100_000, 2_000);
  const gcBlobsDistribution = num(values["gc-blobs-distribution"], 20_000, 2_000);
  const nodes = Number(values.nodes);
  const only = new Set(values.only!.split(","));
  const results = createResults();
  const log = (m: string) => console.error(`[scale ${new Date().toISOString().slice(11, 19)} load ${loadavg()[0]!.toFixed(2)}] ${m}`);
  registryBinary();

  const clusters: Cluster[] = [];
  const t0 = performance.now();
  try {
    if (only.has("transfer") || only.has("small") || only.has("catalog")) {
      clusters.push(await startBerthCluster(nodes), await startDistributionCluster(nodes));
      log(`started ${nodes}+1 Berth nodes and ${nodes}+1 distribution nodes`);
      const order = (r: number) => (r % 2 === 0 ? clusters : [...clusters].reverse());
      for (let r = 0; r < rounds && (only.has("transfer") || only.has("small")); r++) {
        for (const c of order(r)) {
          if (only.has("transfer")) await transferRound(c, { size, chunk }, results);
          if (only.has("small")) await smallImagesRound(c, r, small, 16, results);
        }
        log(`round ${r + 1}/${rounds} of pushes and pulls done`);
      }
      if (only.has("catalog")) {
        for (const c of clusters) {
          await populate(c, catalog, results);
          log(`${c.name}: ${catalog.repos} repositories populated`);
        }
        for (let r = 0; r < rounds; r++) {
          for (const c of order(r)) await listingRound(c, catalog, results);
          log(`round ${r + 1}/${rounds} of listings done`);
        }
      }
    }
    await Promise.all(clusters.splice(0).map((c) => c.stop()));
    if (only.has("gc")) {
      await berthGc(gcBlobs, nodes, results);
      log(`berth gc of ${gcBlobs} blobs done`);
      await distributionGc(gcBlobsDistribution, gcBlobs, results);
      log(`distribution garbage-collect of ${gcBlobsDistribution} blobs done`);
    }
  } catch (err) {
    results.errors.push(String((err as Error).stack ?? err));
  } finally {
    await Promise.all(clusters.map((c) => c.stop()));
    closeAgent();
    closeHttp();
  }

  const version = (cmd: string, args: string[]) => (spawnSync(cmd, args, { encoding: "utf8" }).stdout ?? "").trim().split("\n")[0] ?? "?";
  console.log(
    `\nS3 (Ceph radosgw ${version("radosgw", ["--version"]).replace(/^ceph version /, "").split(" ")[0]}, memstore) + PostgreSQL ` +
      `(${version("psql", ["--version"]).replace(/^psql \(PostgreSQL\) /, "")}); ${nodes} Berth nodes + 1 redirecting, ` +
      `${nodes} distribution nodes (${version(registryBinary(), ["--version"]).split(" ").slice(-1)[0]}) + 1 redirecting; ` +
      `${cpus().length} cores shared by all of them, Ceph, PostgreSQL and the client; ${rounds} rounds, order rotated per round; ` +
      `blobs ${size / MiB} MiB (PATCHes of ${chunk / MiB} MiB), ${small} small images a round, ${catalog.repos} repositories; ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
  );
  console.log(markdown(results));
  console.log(`\nGoals (issue 15, ratios Berth / distribution):\n${goalLines(results).join("\n")}`);
  for (const n of results.notes) console.log(`- ${n}`);
  for (const e of results.errors) console.log(`- ERROR: ${e}`);
  if (values.json) await writeFile(values.json, JSON.stringify({ figures: results.figures, notes: results.notes, errors: results.errors }, null, 2));
  process.exitCode = results.errors.length ? 1 : 0;
}
