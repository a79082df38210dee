/**
 * Catalog and tag listing at scale on PostgreSQL: seeds 100,000 repositories and 1,000,000 tags
 * (10 per repository) plus one repository with 100,000 tags, then measures paginated
 * `GET /v2/_catalog` and `GET /v2/<name>/tags/list` through a real Berth over HTTP.
 *
 *   BERTH_BENCH_DATABASE_URL=postgres://…/berth_bench npm run build && node dist/bench/listing.js
 *
 * The database must be empty or already seeded by this script (it checks); use a throwaway one.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadConfig } from "../src/config/load.js";
import { silentLogger } from "../src/logger.js";
import { createBerth } from "../src/server.js";
import { createPostgresMetadataStore } from "../src/storage/drivers/postgres-metadata-store.js";

const REPOS = 100_000;
const TAGS_PER_REPO = 10;
const BIG_TAGS = 100_000;
const SAMPLES = 2000;
const PAGE = 100;

async function seed(url: string): Promise<void> {
  await (await createPostgresMetadataStore({ url, create: true })).close(); // runs the migrations
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM repositories");
  if (Number(rows[0]!.n) >= REPOS) {
    console.log(`already seeded (${rows[0]!.n} repositories)`);
    await client.end();
    return;
  }
  const t0 = performance.now();
  await client.query("BEGIN");
  await client.query(
    `INSERT INTO repositories (name, created_at)
     SELECT 'ns' || lpad((i % 1000)::text, 4, '0') || '/repo-' || lpad(i::text, 6, '0'), 0 FROM generate_series(1, $1) i`,
    [REPOS],
  );
  await client.query("INSERT INTO repositories (name, created_at) VALUES ('big/repo', 0)");
  await client.query(
    `INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at)
     SELECT id, 'sha256:' || encode(sha256(name::bytea), 'hex'), 'application/vnd.oci.image.manifest.v1+json', 2, '{}'::bytea, 0
     FROM repositories`,
  );
  await client.query(
    `INSERT INTO tags (repository_id, name, digest, updated_at)
     SELECT r.id, 'v' || t, 'sha256:' || encode(sha256(r.name::bytea), 'hex'), 0
     FROM repositories r, generate_series(1, $1) t WHERE r.name <> 'big/repo'`,
    [TAGS_PER_REPO],
  );
  await client.query(
    `INSERT INTO tags (repository_id, name, digest, updated_at)
     SELECT r.id, 'build-' || lpad(t::text, 7, '0'), 'sha256:' || encode(sha256(r.name::bytea), 'hex'), 0
     FROM repositories r, generate_series(1, $1) t WHERE r.name = 'big/repo'`,
    [BIG_TAGS],
  );
  await client.query("COMMIT");
  await client.query("ANALYZE");
  console.log(`seeded ${REPOS + 1} repositories, ${REPOS * TAGS_PER_REPO + BIG_TAGS} tags in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await client.end();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(label: string, paths: () => string, base: string): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < SAMPLES + 100; i++) {
    const t0 = performance.now();
    const res = await fetch(base + paths());
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${label}: ${res.status}`);
    if (i >= 100) times.push(performance.now() - t0); // the first 100 warm up
  }
  times.sort((a, b) => a - b);
  return `| ${label} | ${SAMPLES} | ${percentile(times, 50).toFixed(2)} | ${percentile(times, 99).toFixed(2)} |`;
}

const url = process.env.BERTH_BENCH_DATABASE_URL;
if (!url) {
  console.error("set BERTH_BENCH_DATABASE_URL to a throwaway PostgreSQL database");
  process.exit(2);
}
await seed(url);
const data = await mkdtemp(join(tmpdir(), "berth-bench-"));
const berth = await createBerth(
  loadConfig({ env: { BERTH_DATA: data, BERTH_LISTEN: "127.0.0.1:0", BERTH_DATABASE_URL: url } }),
  silentLogger,
);
const { port } = await berth.start();
const base = `http://127.0.0.1:${port}`;
const repo = (i: number) => `ns${String(i % 1000).padStart(4, "0")}/repo-${String(i).padStart(6, "0")}`;
const rand = (n: number) => 1 + Math.floor(Math.random() * n);
console.log("| request | samples | p50 ms | p99 ms |");
console.log("|---|---|---|---|");
console.log(await measure(`GET /v2/_catalog?n=${PAGE} (first page)`, () => `/v2/_catalog?n=${PAGE}`, base));
console.log(await measure(`GET /v2/_catalog?n=${PAGE}&last=<random>`, () => `/v2/_catalog?n=${PAGE}&last=${repo(rand(REPOS))}`, base));
console.log(await measure(`GET /v2/<random repo>/tags/list`, () => `/v2/${repo(rand(REPOS))}/tags/list`, base));
console.log(
  await measure(
    `GET /v2/big/repo/tags/list?n=${PAGE}&last=<random> (${BIG_TAGS} tags)`,
    () => `/v2/big/repo/tags/list?n=${PAGE}&last=build-${String(rand(BIG_TAGS)).padStart(7, "0")}`,
    base,
  ),
);
console.log(await measure(`GET /v2/big/repo/tags/list (n=1000, the maximum)`, () => `/v2/big/repo/tags/list`, base));
await berth.stop();
await rm(data, { recursive: true, force: true });
