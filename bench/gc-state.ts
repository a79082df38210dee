/**
 * The registry state of the GC benchmark (bench/gc.ts), written directly in the stores: N blobs, a
 * fraction of them garbage, in tagged and untagged image manifests over some repositories. Also
 * used by the scale benchmark (bench/scale/gc-serving.ts) to build Berth's side of its GC run.
 * The shape is described in bench/gc.ts.
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

const DAY = 24 * 3600 * 1000;
export const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

/** Blob i's bytes. */
export const blobContent = (i: number) => Buffer.from(`berth-gc-bench blob ${i}\n`);
export const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}` as Digest;

/** Runs `fn` over 0..n-1 with at most `limit` calls in flight. */
export async function parallel(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

export interface Shape {
  blobs: number;
  garbage: number;
  repos: number;
  layers: number;
}

export type Kind = "live" | "untagged" | "orphan-link" | "unlinked";

/**
 * The registry state, generated row by row: blob i's kind, the manifests grouping blobs `layers`
 * at a time, and which repository each belongs to. Deterministic, so a check can recompute it.
 */
export function plan(shape: Shape) {
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

export interface Rows {
  repos: { id: number; name: string }[];
  blobs: { digest: string[]; size: number[] };
  links: { repo: number[]; digest: string[] };
  manifests: { repo: number[]; digest: string[]; size: number[]; content: Buffer[] };
  refs: { repo: number[]; manifest: string[]; digest: string[] };
  tags: { repo: number[]; name: string[]; digest: string[] };
}

/** Streams the rows in slices of about `chunk` blobs, so 1,000,000 blobs never sit in memory at once. */
export function* generate(shape: Shape, chunk: number): Generator<Rows> {
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

export async function populateSqlite(data: string, shape: Shape, chunk: number): Promise<void> {
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

export async function populatePostgres(url: string, shape: Shape, chunk: number): Promise<void> {
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
export async function writeFiles(data: string, shape: Shape): Promise<void> {
  for (let x = 0; x < 256; x++) await mkdir(join(data, "blobs", "sha256", x.toString(16).padStart(2, "0")), { recursive: true });
  await parallel(shape.blobs, 64, async (i) => {
    const content = blobContent(i);
    const hex = sha256(content).slice(7);
    await writeFile(join(data, "blobs", "sha256", hex.slice(0, 2), hex), content);
  });
}

/** PUTs blob i's bytes under the S3 store's key for each i in `which`. */
export async function putObjects(bucket: string, which: (i: number) => boolean, n: number): Promise<number> {
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
