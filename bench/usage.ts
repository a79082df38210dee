/**
 * Usage reports and quota checks at scale on SQLite: seeds 120,500 blobs, 1,000 repositories in 50
 * namespaces (each repository links 150 blobs, 50 of them from a pool of 500 base layers shared
 * across the registry, and holds 10 manifests referencing 15 blobs each), plus one namespace `big`
 * whose repository links 20,000 blobs; then times the store queries behind `berth usage`,
 * `GET /api/v1/usage` and the per-push quota checks.
 *
 *   npx tsc -p . && node dist/bench/usage.js
 */
import { createEventLog } from "../src/registry/events.js";
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Digest } from "../src/oci/digest.js";
import { createQuotas } from "../src/registry/quotas.js";
import { createSqliteMetadataStore } from "../src/storage/drivers/sqlite-metadata-store.js";

const SHARED = 500;
const NAMESPACES = 50;
const REPOS_PER_NS = 20;
const OWN_PER_REPO = 100;
const SHARED_PER_REPO = 50;
const MANIFESTS_PER_REPO = 10;
const BIG_LINKS = 20_000;
/** 120,500: the shared pool, every repository's own blobs, and big/app's. */
const BLOBS = SHARED + NAMESPACES * REPOS_PER_NS * OWN_PER_REPO + BIG_LINKS;

const digest = (i: number) => `sha256:${createHash("sha256").update(`blob-${i}`).digest("hex")}` as Digest;

function seed(path: string): void {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  const now = Date.now();
  const insertBlob = db.prepare("INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)");
  const insertRepo = db.prepare("INSERT INTO repositories (name, created_at) VALUES (?, ?)");
  const link = db.prepare("INSERT OR IGNORE INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)");
  const manifest = db.prepare(
    "INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) VALUES (?, ?, 'application/vnd.oci.image.manifest.v1+json', ?, ?, ?)",
  );
  const ref = db.prepare("INSERT OR IGNORE INTO manifest_references (repository_id, manifest_digest, kind, digest) VALUES (?, ?, 'blob', ?)");
  db.transaction(() => {
    for (let i = 0; i < BLOBS; i++) insertBlob.run(digest(i), 1024 + ((i * 7919) % (50 * 1024 * 1024)), now);
    let own = SHARED;
    for (let n = 0; n < NAMESPACES; n++) {
      for (let r = 0; r < REPOS_PER_NS; r++) {
        const id = Number(insertRepo.run(`ns${n}/repo${r}`, now).lastInsertRowid);
        const blobs: Digest[] = [];
        for (let k = 0; k < SHARED_PER_REPO; k++) blobs.push(digest((n * 37 + r * 11 + k) % SHARED));
        for (let k = 0; k < OWN_PER_REPO; k++) blobs.push(digest(own++));
        for (const d of blobs) link.run(id, d, now);
        for (let m = 0; m < MANIFESTS_PER_REPO; m++) {
          const content = Buffer.from(JSON.stringify({ n, r, m }).padEnd(1500, " "));
          const md = `sha256:${createHash("sha256").update(content).digest("hex")}`;
          manifest.run(id, md, content.length, content, now);
          for (const d of blobs.slice(m * 15, m * 15 + 15)) ref.run(id, md, d);
        }
      }
    }
    const big = Number(insertRepo.run("big/app", now).lastInsertRowid);
    for (let k = 0; k < BIG_LINKS; k++) link.run(big, digest(own + k), now);
  })();
  db.close();
}

async function time(label: string, runs: number, fn: () => Promise<unknown>): Promise<void> {
  await fn(); // warm the statement cache and the page cache
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const p = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!.toFixed(2);
  console.log(`| ${label} | ${runs} | ${p(0.5)} | ${p(0.95)} |`);
}

const dir = await mkdtemp(join(tmpdir(), "berth-bench-usage-"));
try {
  const path = join(dir, "berth.db");
  (createSqliteMetadataStore({ path, create: true })).close();
  const t0 = performance.now();
  seed(path);
  console.log(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const store = createSqliteMetadataStore({ path, fsync: false, create: true });
  const quotas = createQuotas(store, { warnAt: 0.8, rules: [{ name: "all", namespace: "*", limit: 2 ** 50 }] }, createEventLog({ store }));
  const sample = [digest(1), digest(SHARED + 5), digest(BLOBS - 1)];
  console.log("| operation | runs | p50 ms | p95 ms |\n| --- | --- | --- | --- |");
  await time("scopeBytes(namespace of 20 repos, ~2,500 links)", 200, () => store.scopeBytes("ns7"));
  await time("scopeBytes(big: 1 repo, 20,000 links)", 50, () => store.scopeBytes("big"));
  await time("blobsInScope(namespace, 3 digests)", 500, () => store.blobsInScope("ns7", sample));
  await time("quota check, session (POST)", 200, () => quotas.check("ns7/repo3", { session: true }));
  await time("quota check, manifest with 3 blobs", 200, () => quotas.check("ns7/repo3", { bytes: 1500, blobs: sample.map((d) => ({ digest: d, size: 1 })) }));
  await time("scopeUsage(repository)", 200, () => store.scopeUsage("ns7/repo3"));
  await time("scopeUsage(namespace of 20 repos)", 100, () => store.scopeUsage("ns7"));
  await time("scopeUsage(big: 20,000 links)", 20, () => store.scopeUsage("big"));
  await time("registryUsage() (full scan; cached 60 s by the API)", 5, () => store.registryUsage());
  const s = await store.registryUsage();
  console.log(
    `registry: ${s.blobs} blobs, ${s.repositories} repositories, stored ${s.blobBytes} B, Σ per repository ${s.sumRepositoryBytes} B, unreferenced ${s.unreferencedBlobs}`,
  );
  await store.close();
} finally {
  if (!process.env.KEEP) await rm(dir, { recursive: true, force: true }); else console.log(dir);
}
