/**
 * Builds large registry states directly in the stores, in bulk, for the benches that need a
 * registry of a million blobs (bench/gc.ts, bench/embedded-scale.ts). A generator yields `Rows` a
 * slice at a time; this module writes them: SQLite in one transaction per slice on the store's own
 * file, PostgreSQL in multi-row INSERTs of arrays, after the stores' own migrations made the schema.
 * Blob i's bytes are always `blobContent(i)`, so a check can recompute any digest.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand, CreateBucketCommand } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import pg from "pg";
import type { Digest } from "../src/oci/digest.js";
import { createPostgresMetadataStore } from "../src/storage/drivers/postgres-metadata-store.js";
import { createSqliteMetadataStore } from "../src/storage/drivers/sqlite-metadata-store.js";
import { s3TestClient } from "../test/helpers/services.js";

export const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
const LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
const CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";

export const blobContent = (i: number) => Buffer.from(`berth-gc-bench blob ${i}\n`);
export const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}` as Digest;

/** One slice of a registry state. Repository ids are the caller's; parallel arrays keep a slice compact. */
export interface Rows {
  repos: { id: number; name: string }[];
  blobs: { digest: string[]; size: number[] };
  links: { repo: number[]; digest: string[] };
  manifests: { repo: number[]; digest: string[]; size: number[]; content: Buffer[] };
  refs: { repo: number[]; manifest: string[]; digest: string[] };
  tags: { repo: number[]; name: string[]; digest: string[] };
}

export function emptyRows(): Rows {
  return {
    repos: [],
    blobs: { digest: [], size: [] },
    links: { repo: [], digest: [] },
    manifests: { repo: [], digest: [], size: [], content: [] },
    refs: { repo: [], manifest: [], digest: [] },
    tags: { repo: [], name: [], digest: [] },
  };
}

/**
 * Adds to `rows` an image manifest in `repo` whose config is blob `config` and whose layers are
 * the blobs `layers` (their bytes `blobContent`), with its blob references; returns its digest.
 */
export function addImage(rows: Rows, repo: number, config: number, layers: readonly number[]): string {
  const desc = (b: number, mediaType: string) => ({ mediaType, digest: sha256(blobContent(b)), size: blobContent(b).length });
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: desc(config, CONFIG_TYPE), layers: layers.map((b) => desc(b, LAYER_TYPE)) }),
  );
  const md = sha256(manifest);
  rows.manifests.repo.push(repo);
  rows.manifests.digest.push(md);
  rows.manifests.size.push(manifest.length);
  rows.manifests.content.push(manifest);
  for (const b of [config, ...layers]) {
    rows.refs.repo.push(repo);
    rows.refs.manifest.push(md);
    rows.refs.digest.push(sha256(blobContent(b)));
  }
  return md;
}

/** Writes every slice into a new SQLite metadata store at `dbPath`, all rows dated `at`. */
export async function populateSqlite(dbPath: string, slices: Iterable<Rows>, at: number): Promise<void> {
  createSqliteMetadataStore({ path: dbPath, create: true }).close(); // runs the migrations
  const db = new Database(dbPath);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
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
  for (const rows of slices) write(rows);
  db.exec("ANALYZE");
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}

/** Writes every slice into a new PostgreSQL metadata store at `url`, in one transaction. */
export async function populatePostgres(url: string, slices: Iterable<Rows>, at: number): Promise<void> {
  await (await createPostgresMetadataStore({ url, create: true })).close(); // runs the migrations
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let repos = 0;
  try {
    await client.query("BEGIN");
    for (const r of slices) {
      if (r.repos.length) {
        await client.query("INSERT INTO repositories (id, name, created_at) SELECT * FROM unnest($1::bigint[], $2::text[]), (SELECT $3::bigint) t", [
          r.repos.map((x) => x.id),
          r.repos.map((x) => x.name),
          at,
        ]);
        repos = Math.max(repos, ...r.repos.map((x) => x.id));
        await client.query("SELECT setval(pg_get_serial_sequence('repositories', 'id'), $1)", [repos]);
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

/** Runs `fn` over 0..n-1 with at most `limit` calls in flight. */
export async function parallel(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

/** Writes the bytes of blobs 0..n-1 where the filesystem store under `data` keeps them (blobs/sha256/xx/hex). */
export async function writeBlobFiles(data: string, n: number): Promise<void> {
  for (let x = 0; x < 256; x++) await mkdir(join(data, "blobs", "sha256", x.toString(16).padStart(2, "0")), { recursive: true });
  await parallel(n, 64, async (i) => {
    const content = blobContent(i);
    const hex = sha256(content).slice(7);
    await writeFile(join(data, "blobs", "sha256", hex.slice(0, 2), hex), content);
  });
}

/** PUTs blob i's bytes under the S3 store's key for each i < n that `which` picks; returns how many. */
export async function putBlobObjects(bucket: string, which: (i: number) => boolean, n: number): Promise<number> {
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
