/**
 * Garbage collection at scale: builds a registry state of N blobs (default 1,000,000) directly in
 * the stores, a fraction of them garbage, then times `registry.gc.run()` (exactly what `berth gc`
 * and the scheduler call) in a fresh child process: a dry run, the real run, and a second run on
 * the clean state. Prints a markdown table.
 *
 *   npm run build && node dist/bench/gc.js [--blobs 1000000] [--garbage 0.1] [--repos 1000] [--layers 10]
 *   bash scripts/test-with-services.sh node dist/bench/gc.js --backend s3-postgres [--s3-objects garbage|all|none]
 *
 * BERTH_GC_BENCH_PROFILE=1 also prints, per run, the time spent in each store method. `--keep`
 * leaves the data directory (and database, bucket) behind for inspection.
 *
 * The state: `--repos` repositories; tagged image manifests of `--layers` blobs each (the first is
 * the config), spread round-robin over the repositories, holding the live blobs. The garbage is
 * split three ways: half are the blobs of untagged manifests (the run deletes with "delete
 * untagged" on, so it deletes those manifests, unlinks their blobs, then sweeps them), a quarter are
 * linked to a repository but referenced by no manifest (their manifest was deleted), a quarter
 * have a blob row and bytes but no link (a repository deleted, an upload's claim released).
 * Everything is dated a day ago, so the grace period (1 h, the default) protects nothing.
 *
 * Blob bytes are real: blob i holds "berth-gc-bench blob i\n" under its sha256. On the embedded
 * default every blob gets its file; on S3 (`--s3-objects`, default `garbage`) only the garbage
 * blobs get objects unless told otherwise, since a GC never touches the bytes of live blobs.
 * Rows are written in bulk by this script (SQLite: a transaction per 100,000 blobs on the
 * store's own file; PostgreSQL: multi-row INSERTs of arrays); the stores' migrations create the
 * schema first. The GC runs with fsync on, the production default.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PutObjectCommand, CreateBucketCommand } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import pg from "pg";
import type { Digest } from "../src/oci/digest.js";
import { gcSummary, type GcReport } from "../src/registry/gc.js";
import { createRegistry } from "../src/registry/registry.js";
import type { BlobStore } from "../src/storage/blob-store.js";
import { createFilesystemBlobStore } from "../src/storage/drivers/filesystem-blob-store.js";
import { createPostgresMetadataStore } from "../src/storage/drivers/postgres-metadata-store.js";
import { createS3BlobStore } from "../src/storage/drivers/s3-blob-store.js";
import { createSqliteMetadataStore } from "../src/storage/drivers/sqlite-metadata-store.js";
import type { MetadataStore } from "../src/storage/metadata-store.js";
import { createTestDatabase, deleteBucket, s3Settings, s3TestClient, uniqueBucket } from "../test/helpers/services.js";

const DAY = 24 * 3600 * 1000;
const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

/** Where the child process finds the stores. */
interface Target {
  backend: "embedded" | "s3-postgres";
  data?: string;
  url?: string;
  bucket?: string;
}

interface ChildResult {
  wallMs: number;
  peakRss: number;
  cpuMs: number;
  report: Omit<GcReport, "manifests" | "blobs">;
}

const blobContent = (i: number) => Buffer.from(`berth-gc-bench blob ${i}\n`);
const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}` as Digest;

async function peakRss(): Promise<number> {
  const status = await readFile("/proc/self/status", "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function openStores(t: Target): Promise<{ blobStore: BlobStore; metadataStore: MetadataStore }> {
  if (t.backend === "embedded") {
    return {
      blobStore: await createFilesystemBlobStore({ root: t.data!, fsync: true, create: true }),
      metadataStore: createSqliteMetadataStore({ path: join(t.data!, "berth.db"), fsync: true, create: true }),
    };
  }
  const s3 = s3Settings()!;
  return {
    blobStore: await createS3BlobStore({
      bucket: t.bucket!,
      endpoint: s3.endpoint,
      region: s3.region,
      accessKeyId: s3.accessKey,
      secretAccessKey: s3.secretKey,
      forcePathStyle: true,
      createBucket: false,
    }),
    metadataStore: await createPostgresMetadataStore({ url: t.url!, create: true }),
  };
}

/** Child mode: one `registry.gc.run()` in a process of its own, so its peak RSS is the GC's. */
async function child(t: Target, dryRun: boolean): Promise<void> {
  const stores = await openStores(t);
  const profile = new Map<string, { calls: number; ms: number }>();
  // BERTH_GC_BENCH_PROFILE=1: time spent in each store method (calls overlap when concurrent).
  const timed = <T extends object>(label: string, target: T): T =>
    process.env.BERTH_GC_BENCH_PROFILE
      ? new Proxy(target, {
          get(obj, key, receiver) {
            const v = Reflect.get(obj, key, receiver);
            if (typeof v !== "function") return v;
            return (...args: unknown[]) => {
              const t0 = performance.now();
              const done = () => {
                const e = profile.get(`${label}.${String(key)}`) ?? { calls: 0, ms: 0 };
                e.calls++;
                e.ms += performance.now() - t0;
                profile.set(`${label}.${String(key)}`, e);
              };
              const r = v.apply(obj, args);
              if (r instanceof Promise) return r.finally(done);
              done();
              return r;
            };
          },
        })
      : target;
  const blobStore = timed("blobs", stores.blobStore);
  const metadataStore = timed("metadata", stores.metadataStore);
  const registry = createRegistry({ blobStore, metadataStore });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const report = await registry.gc.run({ dryRun, deleteUntagged: true });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await registry.close();
  await blobStore.close();
  for (const [k, v] of [...profile].sort((a, b) => b[1].ms - a[1].ms)) {
    console.error(`  ${dryRun ? "dry " : ""}${k}: ${v.calls} calls, ${(v.ms / 1000).toFixed(1)} s`);
  }
  const result: ChildResult = {
    wallMs,
    peakRss: await peakRss(),
    cpuMs: (cpu.user + cpu.system) / 1000,
    report: gcSummary(report) as ChildResult["report"],
  };
  process.stdout.write(JSON.stringify(result) + "\n");
}

async function runChild(t: Target, dryRun: boolean): Promise<ChildResult & { load: number }> {
  const script = fileURLToPath(import.meta.url);
  const proc = spawn(process.execPath, [script, "--child", JSON.stringify(t), ...(dryRun ? ["--dry-run"] : [])], {
    stdio: ["ignore", "pipe", "inherit"],
    env: process.env,
  });
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  const code = await new Promise<number | null>((r) => proc.on("exit", r));
  if (code !== 0) throw new Error(`gc child exited ${code}`);
  return { ...(JSON.parse(out.trim().split("\n").pop()!) as ChildResult), load: loadavg()[0]! };
}

/** Runs `fn` over 0..n-1 with at most `limit` calls in flight. */
async function parallel(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

interface Shape {
  blobs: number;
  garbage: number;
  repos: number;
  layers: number;
}

type Kind = "live" | "untagged" | "orphan-link" | "unlinked";

/**
 * The registry state, generated row by row: blob i's kind, the manifests grouping blobs `layers`
 * at a time, and which repository each belongs to. Deterministic, so a check can recompute it.
 */
function plan(shape: Shape) {
  // Live blobs fill whole manifests; the garbage takes the rest.
  const live = Math.floor((shape.blobs * (1 - shape.garbage)) / shape.layers) * shape.layers;
  const g = shape.blobs - live;
  const untagged = Math.floor(g / 2 / shape.layers) * shape.layers;
  const orphanLinks = Math.floor((g - untagged) / 2);
  const unlinked = g - untagged - orphanLinks;
  // Order: live blobs in tagged manifests, untagged manifests' blobs, orphan links, unlinked blobs.
  const bounds = { untagged: live + untagged, orphan: live + untagged + orphanLinks };
  const kind = (i: number): Kind => (i < live ? "live" : i < bounds.untagged ? "untagged" : i < bounds.orphan ? "orphan-link" : "unlinked");
  return { g, untagged, orphanLinks, unlinked, live, kind, manifests: (live + untagged) / shape.layers };
}

interface Rows {
  repos: { id: number; name: string }[];
  blobs: { digest: string[]; size: number[] };
  links: { repo: number[]; digest: string[] };
  manifests: { repo: number[]; digest: string[]; size: number[]; content: Buffer[] };
  refs: { repo: number[]; manifest: string[]; digest: string[] };
  tags: { repo: number[]; name: string[]; digest: string[] };
}

/** Streams the rows in slices of about `chunk` blobs, so 1,000,000 blobs never sit in memory at once. */
function* generate(shape: Shape, chunk: number): Generator<Rows> {
  const p = plan(shape);
  const repoName = (r: number) => `bench/ns${String(r % 100).padStart(3, "0")}/repo-${String(r).padStart(5, "0")}`;
  const repoOf = (blob: number) => (Math.floor(blob / shape.layers) % shape.repos) + 1;
  const repos = Array.from({ length: shape.repos }, (_, r) => ({ id: r + 1, name: repoName(r + 1) }));
  let first = true;
  for (let start = 0; start < shape.blobs; start += chunk) {
    const end = Math.min(shape.blobs, start + chunk);
    const rows: Rows = {
      repos: first ? repos : [],
      blobs: { digest: [], size: [] },
      links: { repo: [], digest: [] },
      manifests: { repo: [], digest: [], size: [], content: [] },
      refs: { repo: [], manifest: [], digest: [] },
      tags: { repo: [], name: [], digest: [] },
    };
    first = false;
    for (let i = start; i < end; i++) {
      const content = blobContent(i);
      const digest = sha256(content);
      rows.blobs.digest.push(digest);
      rows.blobs.size.push(content.length);
      const k = p.kind(i);
      if (k === "unlinked") continue;
      const repo = repoOf(i);
      rows.links.repo.push(repo);
      rows.links.digest.push(digest);
      if (k !== "live" && k !== "untagged") continue;
      // The last blob of a group closes its manifest (both manifest regions start at multiples of layers).
      if ((i + 1) % shape.layers !== 0) continue;
      const group = Array.from({ length: shape.layers }, (_, j) => i - shape.layers + 1 + j);
      const desc = (b: number) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: sha256(blobContent(b)),
        size: blobContent(b).length,
      });
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MANIFEST_TYPE,
          config: { ...desc(group[0]!), mediaType: "application/vnd.oci.image.config.v1+json" },
          layers: group.slice(1).map(desc),
        }),
      );
      const md = sha256(manifest);
      rows.manifests.repo.push(repo);
      rows.manifests.digest.push(md);
      rows.manifests.size.push(manifest.length);
      rows.manifests.content.push(manifest);
      for (const b of group) {
        rows.refs.repo.push(repo);
        rows.refs.manifest.push(md);
        rows.refs.digest.push(sha256(blobContent(b)));
      }
      if (k === "live") {
        rows.tags.repo.push(repo);
        rows.tags.name.push(`t${i}`);
        rows.tags.digest.push(md);
      }
    }
    yield rows;
  }
}

async function populateSqlite(data: string, shape: Shape, chunk: number): Promise<void> {
  createSqliteMetadataStore({ path: join(data, "berth.db"), create: true }).close(); // runs the migrations
  const db = new Database(join(data, "berth.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  const at = Date.now() - DAY;
  const s = {
    repo: db.prepare("INSERT INTO repositories (id, name, created_at) VALUES (?, ?, ?)"),
    blob: db.prepare("INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)"),
    link: db.prepare("INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)"),
    manifest: db.prepare("INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) VALUES (?, ?, ?, ?, ?, ?)"),
    ref: db.prepare("INSERT INTO manifest_references (repository_id, manifest_digest, kind, digest) VALUES (?, ?, 'blob', ?)"),
    tag: db.prepare("INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)"),
  };
  const write = db.transaction((r: Rows) => {
    for (const x of r.repos) s.repo.run(x.id, x.name, at);
    r.blobs.digest.forEach((d, i) => s.blob.run(d, r.blobs.size[i], at));
    r.links.digest.forEach((d, i) => s.link.run(r.links.repo[i], d, at));
    r.manifests.digest.forEach((d, i) => s.manifest.run(r.manifests.repo[i], d, MANIFEST_TYPE, r.manifests.size[i], r.manifests.content[i], at));
    r.refs.digest.forEach((d, i) => s.ref.run(r.refs.repo[i], r.refs.manifest[i], d));
    r.tags.digest.forEach((d, i) => s.tag.run(r.tags.repo[i], r.tags.name[i], d, at));
  });
  for (const rows of generate(shape, chunk)) write(rows);
  db.exec("ANALYZE");
  db.close();
}

async function populatePostgres(url: string, shape: Shape, chunk: number): Promise<void> {
  await (await createPostgresMetadataStore({ url, create: true })).close(); // runs the migrations
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const at = Date.now() - DAY;
  try {
    await client.query("BEGIN");
    for (const r of generate(shape, chunk)) {
      if (r.repos.length) {
        await client.query("INSERT INTO repositories (id, name, created_at) SELECT * FROM unnest($1::bigint[], $2::text[]), (SELECT $3::bigint) t", [
          r.repos.map((x) => x.id),
          r.repos.map((x) => x.name),
          at,
        ]);
        await client.query("SELECT setval(pg_get_serial_sequence('repositories', 'id'), $1)", [r.repos.length]);
      }
      await client.query(
        "INSERT INTO blobs (digest, size, created_at) SELECT d, s, $3 FROM unnest($1::text[], $2::bigint[]) AS x(d, s)",
        [r.blobs.digest, r.blobs.size, at],
      );
      await client.query(
        `INSERT INTO repository_blobs (repository_id, digest, created_at)
         SELECT r, d, $3 FROM unnest($1::bigint[], $2::text[]) AS x(r, d)`,
        [r.links.repo, r.links.digest, at],
      );
      await client.query(
        `INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at)
         SELECT r, d, $5, s, c, $6 FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bytea[]) AS x(r, d, s, c)`,
        [r.manifests.repo, r.manifests.digest, r.manifests.size, r.manifests.content, MANIFEST_TYPE, at],
      );
      await client.query(
        `INSERT INTO manifest_references (repository_id, manifest_digest, kind, digest)
         SELECT r, m, 'blob', d FROM unnest($1::bigint[], $2::text[], $3::text[]) AS x(r, m, d)`,
        [r.refs.repo, r.refs.manifest, r.refs.digest],
      );
      await client.query(
        `INSERT INTO tags (repository_id, name, digest, updated_at)
         SELECT r, n, d, $4 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS x(r, n, d)`,
        [r.tags.repo, r.tags.name, r.tags.digest, at],
      );
    }
    await client.query("COMMIT");
    await client.query("ANALYZE");
  } finally {
    await client.end();
  }
}

/** Writes blob i's bytes where the filesystem store keeps them (blobs/sha256/xx/hex). */
async function writeFiles(data: string, shape: Shape): Promise<void> {
  for (let x = 0; x < 256; x++) await mkdir(join(data, "blobs", "sha256", x.toString(16).padStart(2, "0")), { recursive: true });
  await parallel(shape.blobs, 64, async (i) => {
    const content = blobContent(i);
    const hex = sha256(content).slice(7);
    await writeFile(join(data, "blobs", "sha256", hex.slice(0, 2), hex), content);
  });
}

/** PUTs blob i's bytes under the S3 store's key for each i in `which`. */
async function putObjects(bucket: string, which: (i: number) => boolean, n: number): Promise<number> {
  const client = await s3TestClient();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const ids: number[] = [];
  for (let i = 0; i < n; i++) if (which(i)) ids.push(i);
  await parallel(ids.length, 32, async (k) => {
    const content = blobContent(ids[k]!);
    const hex = sha256(content).slice(7);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `blobs/sha256/${hex.slice(0, 2)}/${hex}`, Body: content }));
  });
  client.destroy();
  return ids.length;
}

/** After the run: every garbage blob's bytes are gone, sampled live blobs are still there, row counts add up. */
async function verify(t: Target, shape: Shape, checkLiveBytes: boolean): Promise<string> {
  const p = plan(shape);
  const { blobStore, metadataStore } = await openStores(t);
  try {
    const step = Math.max(1, Math.floor(shape.blobs / 2000));
    let checked = 0;
    for (let i = 0; i < shape.blobs; i += step) {
      const garbage = i >= p.live;
      if (!garbage && !checkLiveBytes) continue;
      const present = (await blobStore.stat(sha256(blobContent(i)))) !== undefined;
      if (present === garbage) throw new Error(`blob ${i} (${p.kind(i)}): bytes ${present ? "still there" : "missing"}`);
      checked++;
    }
    return `${checked} sampled blobs checked`;
  } finally {
    await metadataStore.close();
    await blobStore.close();
  }
}

async function countRows(t: Target): Promise<{ blobs: number; manifests: number; links: number }> {
  const sql = "SELECT (SELECT count(*) FROM blobs) AS blobs, (SELECT count(*) FROM manifests) AS manifests, (SELECT count(*) FROM repository_blobs) AS links";
  if (t.backend === "embedded") {
    const db = new Database(join(t.data!, "berth.db"), { readonly: true });
    const row = db.prepare(sql).get() as { blobs: number; manifests: number; links: number };
    db.close();
    return row;
  }
  const client = new pg.Client({ connectionString: t.url! });
  await client.connect();
  const { rows } = await client.query(sql);
  await client.end();
  return { blobs: Number(rows[0].blobs), manifests: Number(rows[0].manifests), links: Number(rows[0].links) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      backend: { type: "string", default: process.env.BERTH_TEST_BACKEND === "s3-postgres" ? "s3-postgres" : "embedded" },
      blobs: { type: "string", default: "1000000" },
      garbage: { type: "string", default: "0.1" },
      repos: { type: "string", default: "1000" },
      layers: { type: "string", default: "10" },
      "s3-objects": { type: "string", default: "garbage" },
      keep: { type: "boolean", default: false },
    },
  });
  if (values.child) return child(JSON.parse(values.child) as Target, values["dry-run"]!);

  const shape: Shape = { blobs: Number(values.blobs), garbage: Number(values.garbage), repos: Number(values.repos), layers: Number(values.layers) };
  const backend = values.backend as Target["backend"];
  const p = plan(shape);
  const chunk = shape.layers * 10_000;
  const data = await mkdtemp(join(tmpdir(), "berth-gc-bench-"));
  const target: Target = { backend, data };
  const cleanups: (() => Promise<void>)[] = [() => rm(data, { recursive: true, force: true })];
  const log = (m: string) => console.error(`[gc-bench ${new Date().toISOString().slice(11, 19)} load ${loadavg()[0]!.toFixed(2)}] ${m}`);
  try {
    log(
      `${backend}: ${shape.blobs} blobs, ${p.g} garbage (${p.untagged} in ${p.untagged / shape.layers} untagged manifests, ` +
        `${p.orphanLinks} linked only, ${p.unlinked} unlinked), ${shape.repos} repositories, ${p.manifests} manifests`,
    );
    const t0 = performance.now();
    let objects = "";
    if (backend === "embedded") {
      await populateSqlite(data, shape, chunk);
      log(`rows written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await writeFiles(data, shape);
      objects = `${shape.blobs} files`;
    } else {
      if (!s3Settings() || !process.env.BERTH_TEST_DATABASE_URL) {
        throw new Error("--backend s3-postgres needs the test engines: run under scripts/test-with-services.sh");
      }
      const db = await createTestDatabase();
      cleanups.push(() => db.drop());
      const bucket = uniqueBucket("berth-gc-bench");
      cleanups.push(() => deleteBucket(bucket));
      Object.assign(target, { url: db.url, bucket });
      await populatePostgres(db.url, shape, chunk);
      log(`rows written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const mode = values["s3-objects"];
      const n = await putObjects(bucket, (i) => mode === "all" || (mode === "garbage" && i >= p.live), shape.blobs);
      objects = `${n} objects (${mode === "all" ? "every blob" : mode === "garbage" ? "the garbage blobs only" : "none"})`;
    }
    const populateS = (performance.now() - t0) / 1000;
    log(`populated in ${populateS.toFixed(1)} s: ${objects}`);

    const dry = await runChild(target, true);
    log(`dry run: ${(dry.wallMs / 1000).toFixed(1)} s, would delete ${dry.report.blobsDeleted} blobs`);
    const real = await runChild(target, false);
    log(`gc: ${(real.wallMs / 1000).toFixed(1)} s, ${JSON.stringify(real.report)}`);
    const again = await runChild(target, false);
    log(`second gc: ${(again.wallMs / 1000).toFixed(1)} s, deleted ${again.report.blobsDeleted}`);

    const counts = await countRows(target);
    const expected = { blobs: shape.blobs - p.g, manifests: p.manifests - p.untagged / shape.layers, links: p.live };
    const ok =
      counts.blobs === expected.blobs &&
      counts.manifests === expected.manifests &&
      counts.links === expected.links &&
      real.report.blobsDeleted === p.g &&
      dry.report.blobsDeleted === p.g;
    const sampled = await verify(target, shape, backend === "embedded" || values["s3-objects"] === "all");
    if (!ok) throw new Error(`unexpected result: rows ${JSON.stringify(counts)}, expected ${JSON.stringify(expected)}`);
    log(`verified: rows ${JSON.stringify(counts)}; ${sampled}`);

    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
    const perSecond = (n: number, r: ChildResult) => (n ? Math.round(n / (r.wallMs / 1000)).toLocaleString("en") : "–");
    const row = (label: string, r: ChildResult & { load: number }, examined: number) =>
      [
        label,
        `${(r.wallMs / 1000).toFixed(1)} s`,
        perSecond(examined, r),
        perSecond(r.report.blobsDeleted, r),
        r.report.manifestsDeleted,
        r.report.linksRemoved,
        r.report.blobsDeleted,
        `${(r.cpuMs / 1000).toFixed(1)} s`,
        mib(r.peakRss),
        r.load.toFixed(2),
      ].reduce<string>((line, cell) => `${line} ${cell} |`, "|");
    const n = (x: number) => x.toLocaleString("en");
    console.log(
      `\n${backend === "embedded" ? "filesystem + SQLite" : "S3 (Ceph radosgw) + PostgreSQL"}: ${n(shape.blobs)} blobs ` +
        `(${n(p.g)} garbage), ${shape.repos} repositories, ${n(p.manifests)} manifests; bytes: ${objects}; ` +
        `populated in ${populateS.toFixed(0)} s\n`,
    );
    console.log(
      "| run | wall | blobs/s examined | garbage blobs/s deleted | manifests deleted | links removed | blobs deleted " +
        "| GC process CPU | GC process peak RSS | load (1 min) after |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|---|");
    console.log(row("dry run", dry, shape.blobs));
    console.log(row("gc", real, shape.blobs));
    console.log(row("second gc (clean state)", again, shape.blobs - p.g));
  } finally {
    if (!values.keep) for (const c of cleanups.reverse()) await c().catch((err) => console.error("cleanup:", err));
    else console.error(`kept: ${JSON.stringify(target)}`);
  }
}

await main();
