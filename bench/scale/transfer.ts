/**
 * Big-blob and small-image workloads of the scale benchmark, one round on one registry: a
 * monolithic and a chunked push, a pull through the server and one redirected to the object
 * store (the redirect followed, the whole pull timed), then small-image pushes spread over the
 * nodes. Built on bench/workloads.ts, the side-by-side bench's client.
 */
import type { Cluster } from "./cluster.js";
import { dropObjects } from "./cluster.js";
import { withCpu, type Results } from "./results.js";
import { BlobSource, MiB, pullBlob, pushChunked, pushMonolithic, pushSmallImages } from "../workloads.js";

/** Sizes of the big-blob round. */
export interface TransferShape {
  size: number;
  chunk: number;
}

/** One round of pushes and pulls of `shape.size` bytes on `c`, each request on the next node. */
export async function transferRound(c: Cluster, shape: TransferShape, results: Results): Promise<void> {
  const mono = new BlobSource(shape.size);
  const chunked = new BlobSource(shape.size);
  const repo = "scale/big";
  const mbps = (s: number) => shape.size / MiB / s;
  const add = (workload: string, seconds: number, cpu: number) =>
    results.add(workload, c.name, mbps(seconds), { unit: "MiB/s", higherIsBetter: true, cpu, bytes: shape.size });
  try {
    let r = await withCpu(c, () => pushMonolithic(c.next(), repo, mono));
    add("push, monolithic", r.value, r.cpu);
    r = await withCpu(c, () => pushChunked(c.next(), repo, chunked, shape.chunk));
    add(`push, chunked (${shape.chunk / MiB} MiB PATCHes)`, r.value, r.cpu);
    r = await withCpu(c, () => pullBlob(c.next(), repo, mono));
    add("pull, through the server", r.value, r.cpu);
    r = await withCpu(c, () => pullBlob(c.redirectUrl, repo, mono));
    add("pull, redirected to the object store", r.value, r.cpu);
  } finally {
    await dropObjects(c, [mono.digest, chunked.digest]);
  }
}

/** `count` small images (config + a 4 KiB layer), `parallel` at a time split over the nodes. */
export async function smallImagesRound(c: Cluster, round: number, count: number, parallel: number, results: Results): Promise<void> {
  const nodes = c.urls.length;
  const per = Math.ceil(count / nodes);
  const r = await withCpu(c, async () => {
    const times = await Promise.all(
      c.urls.map((url, i) => pushSmallImages(url, "scale/small", `r${round}-n${i}`, per, Math.max(1, Math.round(parallel / nodes)))),
    );
    return Math.max(...times);
  });
  results.add(`small-image pushes (${parallel} at a time)`, c.name, (per * nodes) / r.value, { unit: "images/s", higherIsBetter: true });
  results.add("small-image pushes: CPU per image", c.name, (r.cpu * 1000) / (per * nodes), { unit: "ms", higherIsBetter: false });
}
