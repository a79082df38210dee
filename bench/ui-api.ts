/**
 * The web UI's API at scale on the embedded default (SQLite + filesystem): builds 100,000
 * repositories (one image each, sizes and push times spread) and one repository with 5,000 tags
 * directly in the stores (bench/ui-state.ts, the state the browser bench bench/ui.ts opens too),
 * starts Berth in this process on a loopback port and times the first page (n=50) of
 * `GET /api/v1/browse/repositories` for each sort and order, with and without a search, and of
 * `…/<name>/tags` (by push time, by name, a later page, the untagged manifests). Each figure is the median and the worst of `--runs` requests after one
 * warm-up request. Prints a markdown report.
 *
 *   npm run build && node dist/bench/ui-api.js [--quick] [--repos N] [--tags N] [--runs N] [--out FILE] [--keep DIR]
 *
 * `--keep DIR`: build the state in DIR (a new directory) and leave it there, to look at afterwards.
 * `--postgres`: the metadata in a fresh PostgreSQL database instead of SQLite (blobs stay on the
 * filesystem), on the test server `scripts/test-with-services.sh` starts (BERTH_TEST_DATABASE_URL).
 * `--quick`: 10,000 repositories, 500 tags, 5 runs (seconds; what a smoke check needs).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.js";
import { silentLogger } from "../src/logger.js";
import { createBerth } from "../src/server.js";
import { parseBenchArgs } from "./args.js";
import { createTestDatabase } from "../test/helpers/services.js";
import { BIG, buildUiState } from "./ui-state.js";

const USAGE = "node dist/bench/ui-api.js [--quick] [--repos N] [--tags N] [--runs N] [--out FILE] [--keep DIR] [--postgres]";
const values = parseBenchArgs(USAGE, { quick: "switch", repos: "value", tags: "value", runs: "value", out: "value", keep: "value", postgres: "switch" });
const quick = values.quick === true;
const REPOS = Number(values.repos ?? (quick ? 10_000 : 100_000));
const TAGS = Number(values.tags ?? (quick ? 500 : 5_000));
const RUNS = Number(values.runs ?? (quick ? 5 : 20));
async function time(url: string): Promise<{ median: number; worst: number; items: number }> {
  const once = async () => {
    const t0 = performance.now();
    const res = await fetch(url);
    const body = (await res.json()) as { items?: unknown[] };
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - t0, items: body.items?.length ?? 0 };
  };
  await once();
  const runs: number[] = [];
  let items = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await once();
    runs.push(r.ms);
    items = r.items;
  }
  runs.sort((a, b) => a - b);
  return { median: runs[Math.floor(runs.length / 2)]!, worst: runs[runs.length - 1]!, items };
}

const data = values.keep ?? (await mkdtemp(join(tmpdir(), "berth-ui-api-")));
if (values.keep) await mkdir(data);
const database = values.postgres ? await createTestDatabase() : undefined;
try {
  const took = await buildUiState(data, { repos: REPOS, tags: TAGS, ...(database ? { databaseUrl: database.url } : {}) });
  console.error(`built ${REPOS} repositories and ${TAGS} tags in ${took.toFixed(1)} s`);
  const config = loadConfig({
    env: { BERTH_DATA: data, BERTH_LISTEN: "127.0.0.1:0", BERTH_SBOMS: "false", ...(database ? { BERTH_DATABASE_URL: database.url } : {}) },
  });
  const berth = await createBerth(config, silentLogger);
  const { port } = await berth.start();
  const base = `http://127.0.0.1:${port}/api/v1/browse/repositories`;
  try {
    const cases: [string, string][] = [];
    for (const sort of ["name", "pushed", "size"]) for (const order of ["asc", "desc"]) cases.push([`repositories sort=${sort} order=${order}`, `${base}?sort=${sort}&order=${order}`]);
    cases.push(["repositories sort=pushed q=5/repo (1/10 match)", `${base}?sort=pushed&q=5/repo`]);
    cases.push(["repositories sort=size q=ns007/ (1/1000 match)", `${base}?sort=size&order=desc&q=ns007/`]);
    cases.push(["repositories sort=name q=absent (no match: full scan)", `${base}?q=absent`]);
    const firstTags = (await (await fetch(`${base}/${BIG}/tags?sort=name&n=50`)).json()) as { next?: string };
    cases.push([`tags of ${BIG} sort=pushed`, `${base}/${BIG}/tags`]);
    cases.push([`tags of ${BIG} sort=name`, `${base}/${BIG}/tags?sort=name`]);
    // Fewer than 50 tags (--tags): there is no second page to time.
    if (firstTags.next) cases.push([`tags of ${BIG} sort=name, 2nd page`, `${base}/${BIG}/tags?sort=name&cursor=${encodeURIComponent(firstTags.next)}`]);
    cases.push([`tags of ${BIG} q=build-0004 (10 match)`, `${base}/${BIG}/tags?q=build-0004`]);
    cases.push([`untagged of ${BIG}`, `${base}/${BIG}/tags?untagged=true`]);
    cases.push([`info of ${BIG}`, `${base}/${BIG}/info`]);
    const lines = [
      `## UI API: first page at ${REPOS.toLocaleString("en")} repositories and ${TAGS.toLocaleString("en")} tags (${database ? "PostgreSQL metadata, filesystem blobs" : "embedded default"})`,
      "",
      `n=50, ${RUNS} requests each after one warm-up, one client, loopback, Berth in the bench's process; load before: ${loadavg()[0]!.toFixed(2)}.`,
      "",
      "| request | items | median ms | worst ms |",
      "| --- | ---: | ---: | ---: |",
    ];
    for (const [label, url] of cases) {
      const r = await time(url);
      lines.push(`| ${label} | ${r.items} | ${r.median.toFixed(1)} | ${r.worst.toFixed(1)} |`);
      console.error(lines[lines.length - 1]);
    }
    const report = `${lines.join("\n")}\n`;
    process.stdout.write(report);
    if (values.out) await writeFile(values.out, report);
  } finally {
    await berth.stop();
  }
} finally {
  if (!values.keep) await rm(data, { recursive: true, force: true });
  await database?.drop();
}
