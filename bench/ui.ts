/**
 * The web UI's figure, measured in a real browser: how long until the first page of the
 * repository list (100,000 repositories; each sort) and of a repository's tags (5,000 tags) is
 * usable, i.e. its 50th row is on screen, counted from the start of the navigation. Builds the
 * state in the stores (bench/ui-state.ts), starts Berth in this process on a loopback port with
 * access control on, signs in as the admin and opens each page in Debian's chromium
 * (playwright-core) `--runs` times:
 *   cold: a new browser profile with only the session cookie: the HTML, the JS and CSS, the
 *         session and the API call all over the network;
 *   warm: the same page again in that tab (assets from the browser cache, as on a second visit).
 * Each figure is the median and the worst; "API done" is when the page's last browse API response
 * ended (Resource Timing), the rest is the UI's own work. Prints a markdown report.
 *
 *   npm run bench:ui [-- --quick] [--repos N] [--tags N] [--runs N] [--postgres] [--out FILE] [--json]
 *
 * `--postgres`: metadata in a fresh PostgreSQL database (scripts/test-with-services.sh starts one)
 * instead of SQLite. `--quick`: 2,000 repositories, 200 tags, 2 runs (what npm test runs).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext } from "playwright-core";
import { loadConfig } from "../src/config/load.js";
import { silentLogger } from "../src/logger.js";
import { createBerth } from "../src/server.js";
import { launchBrowser } from "../test/helpers/browser.js";
import { whichSync } from "../test/helpers/tools.js";
import { parseBenchArgs } from "./args.js";
import { BIG, buildUiState } from "./ui-state.js";

const USAGE = "node dist/bench/ui.js [--quick] [--repos N] [--tags N] [--runs N] [--postgres] [--out FILE] [--json]";
const values = parseBenchArgs(USAGE, { quick: "switch", repos: "value", tags: "value", runs: "value", postgres: "switch", out: "value", json: "switch" });
const quick = values.quick === true;
const REPOS = Number(values.repos ?? (quick ? 2_000 : 100_000));
const TAGS = Number(values.tags ?? (quick ? 200 : 5_000));
const RUNS = Number(values.runs ?? (quick ? 2 : 9));
const ROWS = 50;
const ADMIN_PASSWORD = "bench-admin-password";
if (!whichSync("chromium")) {
  process.stderr.write("bench/ui: needs Debian's chromium (scripts/install-test-deps.sh installs it)\n");
  process.exit(1);
}

/** One page to time: its address and the table region whose rows make it usable. */
interface Case {
  name: string;
  path: string;
  region: string;
}

const CASES: Case[] = [
  { name: "repositories, sort by name", path: "/ui/", region: "Repositories" },
  { name: "repositories, sort by last push", path: "/ui/?sort=pushed", region: "Repositories" },
  { name: "repositories, sort by size", path: "/ui/?sort=size", region: "Repositories" },
  { name: "repositories, search ns007/ by size", path: "/ui/?sort=size&q=ns007%2F", region: "Repositories" },
  { name: `tags of ${BIG} (${TAGS.toLocaleString("en")} tags), newest first`, path: `/ui/r/${BIG}`, region: `Tags of ${BIG}` },
];

interface Timing {
  /** From navigation start to the 50th row on screen. */
  usable: number;
  /** From navigation start to the end of the last browse API response. */
  api: number;
}

/** Opens `path` in the context's tab and waits for the 50th row of the region's table. */
async function visit(context: BrowserContext, base: string, c: Case): Promise<Timing> {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${base}${c.path}`, { waitUntil: "commit" });
  const rows = Math.min(ROWS, c.path.includes("q=ns007") ? Math.floor(REPOS / 1000) : ROWS);
  const handle = await page.waitForFunction(
    ({ region, rows }) => (document.querySelectorAll(`main [aria-label="${region}"] tbody tr`).length >= rows ? performance.now() : false),
    { region: c.region, rows },
    { polling: "raf", timeout: 30_000 },
  );
  const usable = (await handle.jsonValue()) as number;
  const api = await page.evaluate(() => Math.max(0, ...performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/browse/")).map((e) => (e as PerformanceResourceTiming).responseEnd)));
  return { usable, api };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const worst = (xs: number[]) => Math.max(...xs);

async function measure(browser: Browser, base: string, cookies: Parameters<BrowserContext["addCookies"]>[0]) {
  const results: { case: string; cold: Timing[]; warm: Timing[] }[] = [];
  for (const c of CASES) {
    const cold: Timing[] = [];
    const warm: Timing[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.addCookies(cookies);
      const first = await visit(context, base, c);
      const second = await visit(context, base, c);
      await context.close();
      // The first round warms the server's caches and chromium's code caches; it is not counted.
      if (i === 0) continue;
      cold.push(first);
      warm.push(second);
    }
    results.push({ case: c.name, cold, warm });
  }
  return results;
}

const data = await mkdtemp(join(tmpdir(), "berth-bench-ui-"));
const database = values.postgres ? await (await import("../test/helpers/services.js")).createTestDatabase() : undefined;
let exitCode = 0;
try {
  const built = await buildUiState(data, { repos: REPOS, tags: TAGS, ...(database ? { databaseUrl: database.url } : {}) });
  process.stderr.write(`built ${REPOS} repositories and ${TAGS} tags in ${built.toFixed(1)} s\n`);
  const config = loadConfig({
    env: { BERTH_DATA: data, BERTH_LISTEN: "127.0.0.1:0", BERTH_SBOMS: "false", BERTH_AUTH: "true", BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD, ...(database ? { BERTH_DATABASE_URL: database.url } : {}) },
  });
  const berth = await createBerth(config, silentLogger);
  const { port } = await berth.start();
  const base = `http://127.0.0.1:${port}`;
  const browser = await launchBrowser();
  try {
    const signIn = await fetch(`${base}/api/v1/session`, { method: "POST", headers: { "Content-Type": "application/json", Origin: base }, body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }) });
    if (signIn.status !== 201) throw new Error(`sign-in: ${signIn.status} ${await signIn.text()}`);
    const [name, value] = (signIn.headers.get("set-cookie") ?? "").split(";")[0]!.split("=") as [string, string];
    const load = loadavg()[0]!;
    const results = await measure(browser, base, [{ name, value, url: base }]);
    const ms = (x: number) => x.toFixed(0);
    const lines = [
      `## Web UI in chromium: first page usable at ${REPOS.toLocaleString("en")} repositories and ${TAGS.toLocaleString("en")} tags (${database ? "PostgreSQL metadata, filesystem blobs" : "embedded default: SQLite + filesystem"})`,
      "",
      `"Usable": from the start of the navigation to the ${ROWS}th row of the table on screen (performance.now at the first frame it is there). Cold: a new browser profile with only the session cookie; warm: the same page again in that tab. ${RUNS} runs each after one unrecorded round; median / worst in ms; "API done": the end of the page's last browse API response. Debian chromium (headless) driven by playwright-core, Berth in the bench's process, loopback, signed in as the admin; load average before: ${load.toFixed(2)}.`,
      "",
      "| page | cold usable | cold API done | warm usable | warm API done |",
      "| --- | ---: | ---: | ---: | ---: |",
      ...results.map((r) => `| ${r.case} | ${ms(median(r.cold.map((t) => t.usable)))} / ${ms(worst(r.cold.map((t) => t.usable)))} | ${ms(median(r.cold.map((t) => t.api)))} | ${ms(median(r.warm.map((t) => t.usable)))} / ${ms(worst(r.warm.map((t) => t.usable)))} | ${ms(median(r.warm.map((t) => t.api)))} |`),
      "",
    ];
    const report = lines.join("\n");
    if (values.out) await writeFile(values.out, `${report}\n`);
    if (values.json) process.stdout.write(`${JSON.stringify({ repos: REPOS, tags: TAGS, runs: RUNS, results })}\n`);
    else process.stdout.write(`${report}\n`);
  } finally {
    await browser.close();
    await berth.stop();
  }
} catch (err) {
  process.stderr.write(`bench/ui failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitCode = 1;
} finally {
  await database?.drop();
  await rm(data, { recursive: true, force: true });
}
process.exit(exitCode);
