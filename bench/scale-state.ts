/**
 * The registry of bench/embedded-scale.ts: `blobs` blobs in `repos` repositories, written as
 * `berth serve --data DIR` keeps them (DIR/berth.db, DIR/blobs/sha256/xx/hex) by
 * bench/state-builder.ts, and kept between runs (a `scale-state.json` in DIR names its shape).
 *
 * Shape, deterministic from the repository number: repository 1, `ci/monorepo/builds`, has the
 * most tags (10,000 at full size); about 0.1% of the others have thousands (1,000–3,000), 15% have
 * 4–16, the rest 1–3. Every tag names an image manifest of its own (a CI build each); each image has
 * its own config blob and shares its layers with the repository's other images, so the blobs left
 * after the config blobs are spread evenly over the repositories as their layers. Names sit in
 * 500 namespaces (`team-NNN/svc-NNNNNN`), a tenth one level deeper, a fiftieth at top level.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { addImage, blobContent, emptyRows, populateSqlite, sha256, writeBlobFiles, type Rows } from "./state-builder.js";

export interface ScaleShape {
  blobs: number;
  repos: number;
}

export const FULL_SHAPE: ScaleShape = { blobs: 1_000_000, repos: 100_000 };
export const QUICK_SHAPE: ScaleShape = { blobs: 20_000, repos: 2_000 };

/** The repository with the most tags. */
export const BIG_REPO = "ci/monorepo/builds";
/** Where the bench pushes; sorts after every generated name, so the generated pages stay checkable. */
export const PUSH_REPO = "zzz-bench/push";

/** A 32-bit integer hash (lowbias32): the state's only source of variety. */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

export function repoName(r: number): string {
  if (r === 1) return BIG_REPO;
  const ns = `team-${pad(mix(r * 11) % 500, 3)}`;
  const kind = mix(r * 13) % 50;
  if (kind === 1) return `svc-${pad(r, 6)}`;
  return kind % 5 === 0 ? `${ns}/platform/svc-${pad(r, 6)}` : `${ns}/svc-${pad(r, 6)}`;
}

/** The most tags one repository has: 10,000 at full size, fewer for small shapes. */
const maxTags = (shape: ScaleShape) => Math.min(10_000, Math.floor(shape.blobs / 20));

export function tagCount(shape: ScaleShape, r: number): number {
  const most = maxTags(shape);
  if (r === 1) return most;
  const h = mix(r) % 1000;
  if (h < 1) return Math.floor(most / 10) + (mix(r * 7) % Math.floor(most / 5));
  if (h < 150) return 4 + (mix(r * 3) % 13);
  return 1 + (mix(r * 5) % 3);
}

/** Tag j of a repository with `m` images: "latest" first, then build numbers (many) or versions (few). */
export function tagName(j: number, m: number): string {
  if (j === 0) return "latest";
  return m >= 100 ? `build-${pad(j, 6)}` : `1.${j}.0`;
}

/** Where each repository's images and blobs lie; throws when the shape leaves a repository no layer. */
export function layout(shape: ScaleShape) {
  const images = Array.from({ length: shape.repos + 1 }, (_, r) => (r === 0 ? 0 : tagCount(shape, r)));
  const manifests = images.reduce((a, b) => a + b, 0);
  const layers = shape.blobs - manifests;
  if (layers < shape.repos) throw new Error(`${shape.blobs} blobs are too few for ${manifests} images in ${shape.repos} repositories`);
  const layersOf = (r: number) => Math.floor(layers / shape.repos) + (r <= layers % shape.repos ? 1 : 0);
  return { images, manifests, layersOf };
}

/** The rows in slices of about 100,000 blobs, ending at repository boundaries. */
function* generate(shape: ScaleShape): Generator<Rows> {
  const { images, layersOf } = layout(shape);
  let rows = emptyRows();
  let sliceBlobs = 0;
  let blob = 0;
  for (let r = 1; r <= shape.repos; r++) {
    rows.repos.push({ id: r, name: repoName(r) });
    const m = images[r]!;
    const l = layersOf(r);
    const configs = blob;
    const firstLayer = blob + m;
    for (let b = blob; b < firstLayer + l; b++) {
      const digest = sha256(blobContent(b));
      rows.blobs.digest.push(digest);
      rows.blobs.size.push(blobContent(b).length);
      rows.links.repo.push(r);
      rows.links.digest.push(digest);
    }
    blob = firstLayer + l;
    for (let j = 0; j < m; j++) {
      // The first image holds every layer, so no blob is garbage; the others three of them.
      const n = j === 0 ? l : Math.min(l, 3);
      const layers = Array.from({ length: n }, (_, t) => firstLayer + ((j + t) % l));
      const md = addImage(rows, r, configs + j, layers);
      rows.tags.repo.push(r);
      rows.tags.name.push(tagName(j, m));
      rows.tags.digest.push(md);
    }
    sliceBlobs += m + l;
    if (sliceBlobs >= 100_000) {
      yield rows;
      rows = emptyRows();
      sliceBlobs = 0;
    }
  }
  if (rows.repos.length) yield rows;
}

/** Every generated repository name in byte order, as `_catalog` must list them. */
export function expectedCatalog(shape: ScaleShape): string[] {
  const names = Array.from({ length: shape.repos }, (_, i) => repoName(i + 1));
  return names.sort(); // ASCII: code-unit order is SQLite's byte order
}

/** Repository r's tags in byte order. */
export function expectedTags(shape: ScaleShape, r: number): string[] {
  const m = tagCount(shape, r);
  return Array.from({ length: m }, (_, j) => tagName(j, m)).sort();
}

const MARKER = "scale-state.json";

/**
 * The state in `dir`: reused when its marker names the same shape, otherwise (re)built there.
 * Resolves with the seconds the build took (0 when reused).
 */
export async function buildOrReuse(dir: string, shape: ScaleShape, log: (m: string) => void): Promise<number> {
  const marker = join(dir, MARKER);
  if (existsSync(marker)) {
    const kept = JSON.parse(await readFile(marker, "utf8")) as ScaleShape;
    if (kept.blobs === shape.blobs && kept.repos === shape.repos) {
      log(`reusing the state in ${dir}`);
      return 0;
    }
    log(`the state in ${dir} has another shape (${JSON.stringify(kept)}): rebuilding`);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  const { manifests } = layout(shape);
  log(`building ${shape.blobs} blobs, ${shape.repos} repositories, ${manifests} tagged images in ${dir}`);
  await populateSqlite(join(dir, "berth.db"), generate(shape), Date.now() - 24 * 3600 * 1000);
  log(`rows written in ${((performance.now() - t0) / 1000).toFixed(0)} s; writing ${shape.blobs} blob files`);
  await writeBlobFiles(dir, shape.blobs);
  await writeFile(marker, JSON.stringify(shape));
  return (performance.now() - t0) / 1000;
}
