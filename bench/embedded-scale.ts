/**
 * The embedded default at scale: `berth serve --data DIR` over 1,000,000 blobs in 100,000
 * repositories (bench/scale-state.ts builds it directly in the stores). Measures start-up to the
 * first 200 on /v2/ (first and second start; the page cache is left alone, so the first start
 * after a build or reboot is as cold as the machine makes it), idle RSS after start and after
 * idling, `_catalog` and `tags/list` latency with every page checked against the generated names,
 * manifest GETs on random repositories, a push into the big state, and `berth gc --dry-run`.
 * Prints a markdown report (or JSON with `--json`); exits non-zero when a page is wrong.
 *
 *   npm run bench:embedded-scale [-- --keep /tmp/berth-scale] [--quick] [--idle 60] [--no-gc]
 *
 * `--keep DIR` (alias `--reuse DIR`) builds the state in DIR, or reuses it when DIR already holds
 * one of the same shape, and leaves it there; without it the state goes to a temporary directory
 * removed afterwards. `--quick`: 20,000 blobs, 2,000 repositories, 2 s of idling.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { parseArgs } from "node:util";
import { checkBenchArgs } from "./args.js";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { BERTH_BIN } from "../test/helpers/berth.js";
import { freePort } from "../test/helpers/tools.js";
import { BIG_REPO, FULL_SHAPE, PUSH_REPO, QUICK_SHAPE, buildOrReuse, expectedCatalog, expectedTags, layout, repoName, tagCount, type ScaleShape } from "./scale-state.js";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

interface Started {
  url: string;
  pid: number;
  ms: number;
  stop(): Promise<void>;
}

/** Spawns `berth serve` on DIR and times it from spawn to the first 200 on /v2/. */
async function startBerth(data: string): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(process.execPath, [BERTH_BIN, "serve", "--data", data, "--listen", `127.0.0.1:${port}`, "--log-level", "warn"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = t0 + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`berth serve exited with ${child.exitCode}`);
    if (performance.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("berth serve did not answer /v2/ in 120 s");
    }
    const ok = await fetch(`${url}/v2/`).then((r) => (r.body?.cancel(), r.status === 200), () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  return {
    url,
    pid: child.pid!,
    ms,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

/** Latencies of `reps` sequential calls: median, 99th percentile and worst, in ms. */
async function latency(reps: number, fn: (i: number) => Promise<void>) {
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: ms[ms.length - 1]!, reps };
}
type Latency = Awaited<ReturnType<typeof latency>>;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`wrong answer: ${what}`);
}

async function getJson<T>(url: string): Promise<{ body: T; next?: string }> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  const link = res.headers.get("link");
  const body = (await res.json()) as T;
  return { body, ...(link ? { next: /<([^>]+)>/.exec(link)![1]! } : {}) };
}

/** Follows `Link` from `path` to the end; resolves with every item and the page count. */
async function walk(base: string, path: string, key: "repositories" | "tags"): Promise<{ items: string[]; pages: number }> {
  const items: string[] = [];
  let pages = 0;
  for (let next: string | undefined = path; next !== undefined; pages++) {
    const page: { body: Record<string, string[]>; next?: string } = await getJson<Record<string, string[]>>(base + next);
    items.push(...page.body[key]!);
    next = page.next;
  }
  return { items, pages };
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Random function, seeded: the same repositories each run. */
function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

async function listings(url: string, shape: ScaleShape) {
  const all = expectedCatalog(shape);
  const catalogUrl = (q: string) => `${url}/v2/_catalog?${q}`;
  const firstPage = await latency(200, async () => {
    const { body } = await getJson<{ repositories: string[] }>(catalogUrl("n=100"));
    check(same(body.repositories, all.slice(0, 100)), "_catalog first page");
  });
  const random = rng(42);
  const deepPage = await latency(200, async () => {
    const at = Math.floor(all.length * (0.5 + random() * 0.49));
    const { body } = await getJson<{ repositories: string[] }>(catalogUrl(`n=100&last=${encodeURIComponent(all[at]!)}`));
    check(same(body.repositories.filter((n) => n !== PUSH_REPO), all.slice(at + 1, at + 101)), `_catalog page after ${all[at]}`);
  });
  const walks: Record<string, { ms: number; pages: number }> = {};
  for (const n of [1000, 100]) {
    const t0 = performance.now();
    const { items, pages } = await walk(url, `/v2/_catalog?n=${n}`, "repositories");
    walks[`n=${n}`] = { ms: performance.now() - t0, pages };
    check(same(items.filter((x) => x !== PUSH_REPO), all), `_catalog walk with n=${n} (${items.length} names)`);
  }
  const tags = expectedTags(shape, 1);
  const tagsUrl = `${url}/v2/${BIG_REPO}/tags/list`;
  const tagsFirst = await latency(200, async () => {
    const { body } = await getJson<{ tags: string[] }>(`${tagsUrl}?n=100`);
    check(same(body.tags, tags.slice(0, 100)), "tags/list first page");
  });
  const tagsDeep = await latency(200, async () => {
    const at = Math.floor(tags.length * (0.5 + random() * 0.49));
    const { body } = await getJson<{ tags: string[] }>(`${tagsUrl}?n=100&last=${tags[at]}`);
    check(same(body.tags, tags.slice(at + 1, at + 101)), `tags/list page after ${tags[at]}`);
  });
  const t0 = performance.now();
  const tagWalk = await walk(url, `/v2/${BIG_REPO}/tags/list?n=100`, "tags");
  const tagWalkMs = performance.now() - t0;
  check(same(tagWalk.items, tags), "tags/list walk");
  const tagsAll = await latency(20, async () => {
    const { body } = await getJson<{ tags: string[] }>(tagsUrl);
    check(same(body.tags, tags.slice(0, 1000)), "tags/list without n");
  });
  const manifests = await latency(500, async () => {
    const r = 1 + Math.floor(random() * shape.repos);
    const res = await fetch(`${url}/v2/${repoName(r)}/manifests/latest`, { headers: { Accept: MANIFEST } });
    const body = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    check(res.status === 200 && res.headers.get("docker-content-digest") === digest, `manifest of ${repoName(r)}: ${res.status}`);
  });
  // The admin API's listings (berth repo list, ns list): whole, with counts.
  const admin: Record<string, { ms: number; entries: number }> = {};
  for (const path of ["/api/v1/repositories", "/api/v1/namespaces", `/api/v1/repositories?namespace=${BIG_REPO.split("/")[0]}`]) {
    const t1 = performance.now();
    const { body } = await getJson<unknown[]>(url + path);
    admin[path] = { ms: performance.now() - t1, entries: body.length };
  }
  check(admin["/api/v1/repositories"]!.entries >= shape.repos, "/api/v1/repositories lists every repository");
  return { firstPage, deepPage, walks, admin, tagCount: tags.length, tagsFirst, tagsDeep, tagWalk: { ms: tagWalkMs, pages: tagWalk.pages }, tagsAll, manifests };
}

/** A gzipped tar of one file of 1 MiB of random bytes: a layer the SBOM generator can read. */
async function randomLayer(): Promise<Buffer> {
  const tar = pack();
  tar.entry({ name: "data.bin" }, randomBytes(1024 * 1024));
  tar.finalize();
  return gzipSync(await buffer(tar));
}

/** Pushes a new image (a 1 MiB layer, a config, the manifest) into `repo`; resolves with the ms it took. */
async function push(url: string, repo: string, tag: string): Promise<number> {
  const layerBytes = await randomLayer();
  const t0 = performance.now();
  const blob = async (bytes: Buffer) => {
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: "POST", body: new Uint8Array(bytes), headers: { "Content-Type": "application/octet-stream" } });
    check(res.status === 201, `blob push into ${repo}: ${res.status} ${await res.text()}`);
    return { digest, size: bytes.length };
  };
  const layer = await blob(layerBytes);
  const config = await blob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", nonce: randomBytes(8).toString("hex") })));
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
  });
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: "PUT", body: manifest, headers: { "Content-Type": MANIFEST } });
  check(res.status === 201, `manifest push into ${repo}: ${res.status} ${await res.text()}`);
  return performance.now() - t0;
}

/**
 * The first GET /metrics after start (it waits for the storage gauges' first reading) while a
 * second client pings /v2/ back to back: the longest ping is how long other requests stalled.
 */
async function scrape(url: string): Promise<{ ms: number; longestPingMs: number; pings: number }> {
  let done = false;
  let longestPingMs = 0;
  let pings = 0;
  const pinger = (async () => {
    while (!done) {
      const t0 = performance.now();
      await fetch(`${url}/v2/`).then((r) => r.arrayBuffer());
      longestPingMs = Math.max(longestPingMs, performance.now() - t0);
      pings++;
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 50));
  done = true;
  await pinger;
  check(res.status === 200 && /^berth_storage_blobs \d+/m.test(text), `/metrics: ${res.status}`);
  return { ms, longestPingMs, pings };
}

function gcDryRun(data: string): { ms: number; output: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BERTH_BIN, "gc", "--dry-run", "--data", data], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`berth gc --dry-run exited ${r.status}: ${r.stderr}`);
  const lines = r.stdout.trim().split("\n").map((l) => l.trim());
  return { ms: performance.now() - t0, output: lines.filter((l) => /Garbage collection|blobs/.test(l)).join("; ") };
}

async function main(): Promise<void> {
  checkBenchArgs("npm run bench:embedded-scale -- [--quick] [--keep DIR | --reuse DIR] [--blobs N] [--repos N] [--idle S] [--no-gc] [--json]", { quick: "switch", keep: "value", reuse: "value", blobs: "value", repos: "value", idle: "value", "no-gc": "switch", json: "switch" });
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      keep: { type: "string" },
      reuse: { type: "string" },
      blobs: { type: "string" },
      repos: { type: "string" },
      idle: { type: "string" },
      "no-gc": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  const base = values.quick ? QUICK_SHAPE : FULL_SHAPE;
  const shape: ScaleShape = { blobs: Number(values.blobs ?? base.blobs), repos: Number(values.repos ?? base.repos) };
  const idleS = Number(values.idle ?? (values.quick ? 2 : 60));
  const kept = values.keep ?? values.reuse;
  const data = kept ?? (await mkdtemp(join(tmpdir(), "berth-embedded-scale-")));
  const log = (m: string) => console.error(`[embedded-scale ${new Date().toISOString().slice(11, 19)} load ${loadavg()[0]!.toFixed(2)}] ${m}`);
  const empty = await mkdtemp(join(tmpdir(), "berth-embedded-empty-"));
  try {
    const buildS = await buildOrReuse(data, shape, log);
    const { manifests } = layout(shape);
    // Start-up of an empty registry, for scale: what the node process costs anyway.
    const emptyStart = await startBerth(empty);
    const emptyRss = rssMiB(emptyStart.pid);
    await emptyStart.stop();
    const first = await startBerth(data);
    const firstRss = rssMiB(first.pid);
    await first.stop();
    const second = await startBerth(data);
    log(`start-up: empty ${emptyStart.ms.toFixed(0)} ms, first ${first.ms.toFixed(0)} ms, second ${second.ms.toFixed(0)} ms`);
    const rss = { empty: emptyRss, firstStart: firstRss, start: rssMiB(second.pid), idle: 0, afterListing: 0, afterPush: 0 };
    await new Promise((r) => setTimeout(r, idleS * 1000));
    rss.idle = rssMiB(second.pid);
    const metrics = await scrape(second.url);
    let lists: Awaited<ReturnType<typeof listings>>;
    let pushes: { existingMs: number; newRepoMs: number; secondMs: number };
    try {
      lists = await listings(second.url, shape);
      rss.afterListing = rssMiB(second.pid);
      log("listings checked");
      const tag = `push-${Date.now()}`;
      pushes = {
        existingMs: await push(second.url, repoName(2), tag),
        newRepoMs: await push(second.url, PUSH_REPO, tag),
        secondMs: await push(second.url, PUSH_REPO, `${tag}-2`),
      };
      rss.afterPush = rssMiB(second.pid);
    } finally {
      await second.stop();
    }
    const gc = values["no-gc"] ? undefined : gcDryRun(data);
    const result = { shape, manifests, tagsOfBiggest: tagCount(shape, 1), buildS, idleS, start: { empty: emptyStart.ms, first: first.ms, second: second.ms }, rss, metrics, lists, pushes, gc };
    console.log(values.json ? JSON.stringify(result) : report(result));
  } finally {
    await rm(empty, { recursive: true, force: true });
    if (!kept) await rm(data, { recursive: true, force: true });
    else log(`state kept in ${data}`);
  }
}

function report(r: {
  shape: ScaleShape; manifests: number; tagsOfBiggest: number; buildS: number; idleS: number;
  start: { empty: number; first: number; second: number };
  rss: Record<string, number>;
  lists: Awaited<ReturnType<typeof listings>>;
  pushes: { existingMs: number; newRepoMs: number; secondMs: number };
  metrics: { ms: number; longestPingMs: number; pings: number };
  gc?: { ms: number; output: string };
}): string {
  const ms = (x: number) => `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms`;
  const lat = (l: Latency) => `${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.max)} | ${l.reps}`;
  const n = (x: number) => x.toLocaleString("en");
  const { lists } = r;
  return [
    `State: ${n(r.shape.blobs)} blobs, ${n(r.shape.repos)} repositories, ${n(r.manifests)} tagged image manifests ` +
      `(biggest repository: ${n(r.tagsOfBiggest)} tags)${r.buildS ? `, built in ${r.buildS.toFixed(0)} s` : ", reused"}; load (1 min) at the end ${loadavg()[0]!.toFixed(2)}`,
    "",
    "| start-up to first 200 on /v2/ | time | RSS when ready |",
    "|---|---|---|",
    `| empty data directory (for scale) | ${ms(r.start.empty)} | ${r.rss.empty!.toFixed(0)} MiB |`,
    `| first start on the state | ${ms(r.start.first)} | ${r.rss.firstStart!.toFixed(0)} MiB |`,
    `| second start | ${ms(r.start.second)} | ${r.rss.start!.toFixed(0)} MiB |`,
    "",
    `RSS of the second server: ${r.rss.start!.toFixed(0)} MiB when ready, ${r.rss.idle!.toFixed(0)} MiB after ${r.idleS} s idle, ` +
      `${r.rss.afterListing!.toFixed(0)} MiB after the listings below, ${r.rss.afterPush!.toFixed(0)} MiB after the pushes.`,
    "",
    `First \`GET /metrics\` after the idle minute (the storage gauges' first reading): ${ms(r.metrics.ms)}; ` +
      `meanwhile ${r.metrics.pings} back-to-back \`GET /v2/\` from another client, the longest ${ms(r.metrics.longestPingMs)}.`,
    "",
    "| request (sequential, keep-alive) | p50 | p99 | max | requests |",
    "|---|---|---|---|---|",
    `| \`_catalog?n=100\` (first page) | ${lat(lists.firstPage)} |`,
    `| \`_catalog?n=100&last=…\` (a random page in the second half) | ${lat(lists.deepPage)} |`,
    `| \`${BIG_REPO}/tags/list?n=100\` (first page of ${n(lists.tagCount)}) | ${lat(lists.tagsFirst)} |`,
    `| \`${BIG_REPO}/tags/list?n=100&last=…\` (a random page in the second half) | ${lat(lists.tagsDeep)} |`,
    `| \`${BIG_REPO}/tags/list\` (no n: the first 1,000) | ${lat(lists.tagsAll)} |`,
    `| \`GET /v2/<random repository>/manifests/latest\` | ${lat(lists.manifests)} |`,
    "",
    "| walk, following `Link` | time | pages |",
    "|---|---|---|",
    ...Object.entries(lists.walks).map(([k, w]) => `| \`_catalog?${k}\`, all ${n(r.shape.repos)} repositories | ${ms(w.ms)} | ${w.pages} |`),
    `| \`tags/list?n=100\`, all ${n(lists.tagCount)} tags of ${BIG_REPO} | ${ms(lists.tagWalk.ms)} | ${lists.tagWalk.pages} |`,
    ...Object.entries(lists.admin).map(([path, a]) => `| admin API \`GET ${path}\` (${n(a.entries)} entries, one response) | ${ms(a.ms)} | 1 |`),
    "",
    `Push of a new image (1 MiB layer, config, manifest; fsync on): into an existing repository ${ms(r.pushes.existingMs)}, ` +
      `creating a repository ${ms(r.pushes.newRepoMs)}, a second image there ${ms(r.pushes.secondMs)}.`,
    r.gc ? `\n\`berth gc --dry-run\` (whole process, server stopped): ${(r.gc.ms / 1000).toFixed(1)} s (${r.gc.output})` : "",
  ].join("\n");
}

await main();
