/**
 * The garbage-collection benches' registry state (bench/gc.ts, and bench/scale/gc-serving.ts on
 * S3 + PostgreSQL): which blobs are live or garbage and the rows that say so, generated in slices
 * for bench/state-builder.ts to write. See bench/gc.ts for the shape of the garbage.
 */
import { addImage, blobContent, emptyRows, sha256, type Rows } from "./state-builder.js";

/** The GC bench's registry: `blobs` blobs, a `garbage` fraction of them garbage, over `repos` repositories, `layers` blobs per manifest. */
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

/** Streams the rows in slices of about `chunk` blobs, so 1,000,000 blobs never sit in memory at once. */
export function* generate(shape: Shape, chunk: number): Generator<Rows> {
  const p = plan(shape);
  const repoName = (r: number) => `bench/ns${String(r % 100).padStart(3, "0")}/repo-${String(r).padStart(5, "0")}`;
  const repoOf = (blob: number) => (Math.floor(blob / shape.layers) % shape.repos) + 1;
  const repos = Array.from({ length: shape.repos }, (_, r) => ({ id: r + 1, name: repoName(r + 1) }));
  let first = true;
  for (let start = 0; start < shape.blobs; start += chunk) {
    const end = Math.min(shape.blobs, start + chunk);
    const rows = emptyRows();
    if (first) rows.repos = repos;
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
      const md = addImage(rows, repo, group[0]!, group.slice(1));
      if (k === "live") {
        rows.tags.repo.push(repo);
        rows.tags.name.push(`t${i}`);
        rows.tags.digest.push(md);
      }
    }
    yield rows;
  }
}

