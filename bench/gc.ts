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
 * Rows are written in bulk by bench/state-builder.ts (SQLite: a transaction per 100,000 blobs on
 * the store's own file; PostgreSQL: multi-row INSERTs of arrays); the stores' migrations create the
 * schema first. The GC runs with fsync on, the production default.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkBenchArgs } from "./args.js";
import Database from "better-sqlite3";
import pg from "pg";
import { gcSummary, type GcReport } from "../src/registry/gc.js";
import { createRegistry } from "../src/registry/registry.js";
import type { BlobStore } from "../src/storage/blob-store.js";
import { createFilesystemBlobStore } from "../src/storage/drivers/filesystem-blob-store.js";
import { createPostgresMetadataStore } from "../src/storage/drivers/postgres-metadata-store.js";
import { createS3BlobStore } from "../src/storage/drivers/s3-blob-store.js";
import { createSqliteMetadataStore } from "../src/storage/drivers/sqlite-metadata-store.js";
import type { MetadataStore } from "../src/storage/metadata-store.js";
import { createTestDatabase, deleteBucket, s3Settings, uniqueBucket } from "../test/helpers/services.js";
import { generate, plan, type Shape } from "./gc-state.js";
import { blobContent, populatePostgres, populateSqlite, putBlobObjects, sha256, writeBlobFiles } from "./state-builder.js";

const DAY = 24 * 3600 * 1000;

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
  if (!process.argv.includes("--child")) checkBenchArgs("npm run bench:gc -- [--blobs N] [--garbage FRACTION] [--repos N] [--layers N] [--backend embedded|s3-postgres] [--s3-objects garbage|all|none] [--keep]", { backend: "value", blobs: "value", garbage: "value", repos: "value", layers: "value", "s3-objects": "value", keep: "switch" });
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
      await populateSqlite(join(data, "berth.db"), generate(shape, chunk), Date.now() - DAY);
      log(`rows written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await writeBlobFiles(data, shape.blobs);
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
      await populatePostgres(db.url, generate(shape, chunk), Date.now() - DAY);
      log(`rows written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const mode = values["s3-objects"];
      const n = await putBlobObjects(bucket, (i) => mode === "all" || (mode === "garbage" && i >= p.live), shape.blobs);
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
