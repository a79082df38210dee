/**
 * The listing workloads of the scale benchmark: a registry populated over HTTP with `repos` tiny
 * repositories (one shared config and layer mounted into each, a manifest per repository), then
 * `_catalog` (a first page, a page from the middle, a full walk following `Link`) and
 * `tags/list`. Distribution lists the bucket for these; Berth queries PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import type { Cluster } from "./cluster.js";
import { call, expectStatus, nextLink, parallel } from "./http.js";
import { median, type Results } from "./results.js";
import { makeImage } from "../../test/helpers/fixtures.js";
import { pushImage } from "../workloads.js";

/** What a full `_catalog` walk may cost before it is stopped and extrapolated. */
export interface CatalogShape {
  repos: number;
  concurrency: number;
  /** Seconds one full walk may take; past that, the pages done are extrapolated to the whole walk. */
  walkBudget: number;
}

export const repoName = (i: number) => `scale/cat/r${String(i).padStart(6, "0")}`;

/** Pushes the shared image, then mounts it into `repos` repositories and tags each `v1`. Returns seconds. */
export async function populate(c: Cluster, shape: CatalogShape, results: Results): Promise<void> {
  const image = makeImage({ layers: [randomBytes(1024)] });
  await pushImage(c.urls[0]!, "scale/base", "v1", image);
  const t0 = performance.now();
  await parallel(shape.repos, shape.concurrency, async (i) => {
    const node = c.next();
    const repo = repoName(i);
    for (const digest of [image.configDigest, image.layerDigests[0]!]) {
      await expectStatus(201, "POST", `${node}/v2/${repo}/blobs/uploads/?mount=${digest}&from=scale/base`);
    }
    await expectStatus(201, "PUT", `${node}/v2/${repo}/manifests/v1`, { body: image.manifest, headers: { "content-type": image.manifestMediaType } });
  });
  const seconds = (performance.now() - t0) / 1000;
  results.add(`populate ${shape.repos.toLocaleString("en")} repositories over HTTP (${shape.concurrency} at a time)`, c.name, shape.repos / seconds, {
    unit: "repos/s",
    higherIsBetter: true,
  });
}

async function timedGet(url: string): Promise<{ ms: number; body: Buffer; next?: string }> {
  const t0 = performance.now();
  const a = await expectStatus(200, "GET", url);
  const next = nextLink(a);
  return { ms: performance.now() - t0, body: a.body, ...(next ? { next } : {}) };
}

/** Median ms of `times` GETs of `path`, each on the next node. */
async function medianGet(c: Cluster, path: string, times: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) ms.push((await timedGet(`${c.next()}${path}`)).ms);
  return median(ms);
}

/**
 * Follows `_catalog?n=100` pages to the end, each page on the next node, within the budget.
 * Returns seconds (extrapolated from the pages done when over budget) and the repositories seen.
 */
async function walk(c: Cluster, shape: CatalogShape): Promise<{ seconds: number; seen: number; extrapolated: boolean }> {
  const t0 = performance.now();
  let path: string | undefined = "/v2/_catalog?n=100";
  let seen = 0;
  let pages = 0;
  while (path) {
    const page = await timedGet(`${c.next()}${path}`);
    seen += (JSON.parse(page.body.toString()) as { repositories: string[] }).repositories.length;
    pages++;
    path = page.next;
    const elapsed = (performance.now() - t0) / 1000;
    if (path && elapsed > shape.walkBudget) {
      const total = Math.ceil((shape.repos + 3) / 100);
      return { seconds: (elapsed / pages) * total, seen, extrapolated: true };
    }
  }
  return { seconds: (performance.now() - t0) / 1000, seen, extrapolated: false };
}

/** One round of listings on a populated registry. */
export async function listingRound(c: Cluster, shape: CatalogShape, results: Results): Promise<void> {
  const ms = { unit: "ms", higherIsBetter: false } as const;
  const n = shape.repos.toLocaleString("en");
  results.add(`_catalog?n=100, first page (${n} repos)`, c.name, await medianGet(c, "/v2/_catalog?n=100", 5), ms);
  const middle = repoName(Math.floor(shape.repos / 2));
  results.add(`_catalog?n=100 from the middle (last=${middle})`, c.name, await medianGet(c, `/v2/_catalog?n=100&last=${middle}`, 3), ms);
  const w = await walk(c, shape);
  if (!w.extrapolated && w.seen < shape.repos) throw new Error(`${c.name}: the catalog walk saw ${w.seen} repositories, expected ≥ ${shape.repos}`);
  results.add(`_catalog full walk, n=100 pages (${n} repos)`, c.name, w.seconds, {
    unit: "s",
    higherIsBetter: false,
    ...(w.extrapolated ? { note: `some runs stopped after ${shape.walkBudget} s and extrapolated from the pages done` } : {}),
  });
  const repo = repoName(shape.repos - 1);
  results.add("tags/list of one repository", c.name, await medianGet(c, `/v2/${repo}/tags/list`, 10), ms);
  const tags = await call("GET", `${c.next()}/v2/${repo}/tags/list`);
  if (!tags.body.toString().includes('"v1"')) throw new Error(`${c.name}: tags/list of ${repo} lacks v1: ${tags.body.toString()}`);
}
