/**
 * The registry the web UI's browser bench (bench/ui.ts) opens: `repos` repositories of one image
 * each (sizes and push times spread over a year) and one repository, `big/app`, with `tags` tags
 * (every tenth manifest also left untagged), written straight into the stores with
 * bench/state-builder.ts. The stores' triggers keep each repository's size, counts and push time
 * as a push would. bench/ui-api.ts times the API on this same state, so the two read together.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { MANIFEST_TYPE, emptyRows, populatePostgres, populateSqlite, sha256, type Rows } from "./state-builder.js";

export const BIG = "big/app";
const SLICE = 5_000;

/** One image config per platform, stored as real blobs so the tags page reads platforms from them. */
const CONFIGS = ["amd64", "arm64"].map((architecture) => Buffer.from(JSON.stringify({ architecture, os: "linux", rootfs: { type: "layers", diff_ids: [] } })));

/** The name of repository i (1-based): 1,000 namespaces. */
export const repoName = (i: number) => `ns${String(i % 1000).padStart(3, "0")}/repo-${String(i).padStart(6, "0")}`;

function* slices(repos: number, tags: number): Generator<Rows> {
  const linked = new Set<string>();
  const image = (rows: Rows, repo: number, layer: string, layerSize: number, config: Buffer): string => {
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer, size: layerSize }],
      }),
    );
    const digest = sha256(manifest);
    rows.manifests.repo.push(repo);
    rows.manifests.digest.push(digest);
    rows.manifests.size.push(manifest.length);
    rows.manifests.content.push(manifest);
    for (const d of [sha256(config), layer]) {
      if (!linked.has(`${repo} ${d}`)) {
        linked.add(`${repo} ${d}`);
        rows.links.repo.push(repo);
        rows.links.digest.push(d);
      }
      rows.refs.repo.push(repo);
      rows.refs.manifest.push(digest);
      rows.refs.digest.push(d);
    }
    return digest;
  };
  let rows = emptyRows();
  for (const c of CONFIGS) {
    rows.blobs.digest.push(sha256(c));
    rows.blobs.size.push(c.length);
  }
  for (let i = 1; i <= repos; i++) {
    rows.repos.push({ id: i, name: repoName(i) });
    const layer = sha256(`layer ${i}`);
    const size = 1024 + ((i * 2_654_435_761) % 1_000_000_007);
    rows.blobs.digest.push(layer);
    rows.blobs.size.push(size);
    linked.clear();
    rows.tags.repo.push(i);
    rows.tags.name.push("latest");
    rows.tags.digest.push(image(rows, i, layer, size, CONFIGS[i % 2]!));
    if (i % SLICE === 0) {
      yield rows;
      rows = emptyRows();
    }
  }
  const big = repos + 1;
  linked.clear();
  rows.repos.push({ id: big, name: BIG });
  for (let t = 0; t < tags; t++) {
    const layer = sha256(`big layer ${t}`);
    rows.blobs.digest.push(layer);
    rows.blobs.size.push(10_000 + t);
    rows.tags.repo.push(big);
    rows.tags.name.push(`build-${String(t).padStart(5, "0")}`);
    rows.tags.digest.push(image(rows, big, layer, 10_000 + t, CONFIGS[t % 2]!));
    if (t % 10 === 0) image(rows, big, layer, 10_000 + t, CONFIGS[(t + 1) % 2]!);
  }
  yield rows;
}

/** Moves each tag's time, and so its repository's (the triggers keep pushed_at), across a year. */
const SPREAD = (last: string) => `UPDATE tags SET updated_at = updated_at + ((repository_id * 7919 + length(name) * 104729 + ${last}) % 31536000) * 1000`;

/**
 * Writes the state: metadata into SQLite under `data` (the embedded default) or into the
 * PostgreSQL database at `databaseUrl`, the two configs' bytes under `data/blobs` (the filesystem
 * store; layers are never read by the pages). Resolves the seconds it took.
 */
export async function buildUiState(data: string, { repos, tags, databaseUrl }: { repos: number; tags: number; databaseUrl?: string }): Promise<number> {
  const t0 = performance.now();
  const at = Date.UTC(2026, 0, 1);
  if (databaseUrl) {
    await populatePostgres(databaseUrl, slices(repos, tags), at);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(SPREAD("ascii(right(name, 1))"));
    await client.query("ANALYZE");
    await client.end();
  } else {
    await populateSqlite(join(data, "berth.db"), slices(repos, tags), at);
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(join(data, "berth.db"));
    db.exec(SPREAD("unicode(substr(name, -1))"));
    db.exec("ANALYZE");
    db.close();
  }
  for (const c of CONFIGS) {
    const hex = sha256(c).slice(7);
    await mkdir(join(data, "blobs", "sha256", hex.slice(0, 2)), { recursive: true });
    await writeFile(join(data, "blobs", "sha256", hex.slice(0, 2), hex), c);
  }
  return (performance.now() - t0) / 1000;
}
