/**
 * GC while serving, on both registries. The state is bench/gc-state.ts's: N blobs, 10 % garbage
 * (untagged manifests' blobs, links without a manifest, unlinked blobs), 10 blobs per manifest.
 * Berth's is written straight into PostgreSQL (the garbage's bytes and the pulled image's in the
 * bucket), then `berth gc --delete-untagged` runs beside three serving nodes while a puller keeps
 * pulling one image round-robin. Distribution's is written into its bucket in its own layout
 * (every blob's bytes, links, revisions, tags), then `registry garbage-collect --delete-untagged`
 * runs while one node serves the same pulls in read-only mode: its documentation requires the
 * registry read-only or stopped during a collection.
 */
import { spawn } from "node:child_process";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { BERTH_BIN, scaleOutEnv } from "../../test/helpers/berth.js";
import { deleteBucket, s3TestClient, uniqueBucket } from "../../test/helpers/services.js";
import { generate, plan, type Shape } from "../gc-state.js";
import { blobContent, populatePostgres, putBlobObjects, sha256 } from "../state-builder.js";
import { registryBinary } from "../servers.js";
import { createBucket, spawnDistributionS3, startBerthCluster, stopDistribution, type Cluster } from "./cluster.js";
import { call, parallel } from "./http.js";
import type { Results, Who } from "./results.js";

/** The image the puller pulls: repository 1's first tagged manifest (blobs 0..layers-1). */
const PULLED = { repo: "bench/ns001/repo-00001", tag: "t9" };

/**
 * 100 repositories at 100,000 blobs, fewer below so that every repository keeps a tagged manifest:
 * distribution's `garbage-collect --delete-untagged` fails on a repository without tags
 * ("failed to retrieve tags unknown repository").
 */
const shapeOf = (blobs: number): Shape => ({ blobs, garbage: 0.1, repos: Math.max(1, Math.min(100, Math.floor(blobs / 100))), layers: 10 });

/** Pulls PULLED (manifest, then every blob) from `next()` until stopped; counts pulls and errors. */
function startPuller(next: () => string) {
  let stop = false;
  const counts = { pulls: 0, errors: 0, firstError: "" };
  const fail = (m: string) => {
    counts.errors++;
    counts.firstError ||= m;
  };
  const loop = (async () => {
    while (!stop) {
      const node = next();
      try {
        const m = await call("GET", `${node}/v2/${PULLED.repo}/manifests/${PULLED.tag}`, {
          headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
          timeoutMs: 30_000,
        });
        if (m.status !== 200) {
          fail(`manifest: HTTP ${m.status}`);
          continue;
        }
        const manifest = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
        for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
          const b = await call("GET", `${node}/v2/${PULLED.repo}/blobs/${d}`, { timeoutMs: 30_000 });
          if (b.status !== 200 || sha256(b.body) !== d) fail(`blob ${d.slice(0, 15)}: HTTP ${b.status}`);
        }
        counts.pulls++;
      } catch (err) {
        fail(String(err));
      }
    }
  })();
  return {
    counts,
    async stop() {
      stop = true;
      await loop;
      return counts;
    },
  };
}

/** Runs a command to its end; resolves seconds and output, rejects on a non-zero exit. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; output: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let errors = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (errors += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) resolve({ seconds, output: output + errors });
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${(output + errors).slice(-2000)}`));
    });
  });
}

function record(results: Results, who: Who, blobs: number, seconds: number, puller: { pulls: number; errors: number; firstError: string }, reportAs = blobs) {
  const label = `GC of ${reportAs.toLocaleString("en")} blobs while serving`;
  if (reportAs !== blobs) {
    const note = `distribution measured at ${blobs.toLocaleString("en")} blobs (${seconds.toFixed(1)} s) and extrapolated linearly`;
    results.add(label, who, (seconds * reportAs) / blobs, { unit: "s", higherIsBetter: false, note });
    results.add(`GC of ${blobs.toLocaleString("en")} blobs (measured)`, who, seconds, { unit: "s", higherIsBetter: false });
  } else {
    results.add(label, who, seconds, { unit: "s", higherIsBetter: false });
  }
  results.add(`${label}: pulls per second during the GC`, who, puller.pulls / seconds, { unit: "pulls/s", higherIsBetter: true });
  results.add(`${label}: pull errors during the GC`, who, puller.errors, { unit: "errors", higherIsBetter: false });
  if (puller.errors > 0) results.errors.push(`${who}: ${puller.errors} pull errors during the GC (first: ${puller.firstError})`);
}

/** Berth: the state in PostgreSQL and the bucket, three serving nodes, `berth gc` beside them. */
export async function berthGc(blobs: number, nodes: number, results: Results): Promise<void> {
  const shape = shapeOf(blobs);
  const p = plan(shape);
  const backend = await scaleOutEnv();
  const data = await mkdtemp(join(tmpdir(), "bench-scale-gc-"));
  let cluster: Cluster | undefined;
  try {
    const t0 = performance.now();
    await populatePostgres(backend.env.BERTH_DATABASE_URL!, generate(shape, shape.layers * 10_000), Date.now() - 24 * 3600 * 1000);
    await putBlobObjects(backend.env.BERTH_S3_BUCKET!, (i) => i >= p.live || i < shape.layers, shape.blobs);
    results.notes.push(`Berth GC state (${blobs} blobs) written straight into PostgreSQL and the bucket in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    cluster = await startBerthCluster(nodes, {}, backend);
    const puller = startPuller(cluster.next);
    await new Promise((r) => setTimeout(r, 500));
    const env = { ...process.env, ...backend.env, BERTH_LOG_LEVEL: "warn" };
    const gc = await timed(process.execPath, [BERTH_BIN, "gc", "--delete-untagged", "--json", "--data", data], env).finally(() => puller.stop());
    const deleted = Number(/"blobsDeleted":\s*(\d+)/.exec(gc.output)?.[1]);
    if (deleted !== p.g) results.errors.push(`berth gc deleted ${deleted} blobs, expected ${p.g}`);
    record(results, "berth", blobs, gc.seconds, puller.counts);
  } finally {
    await cluster?.stop();
    await backend.cleanup();
    await rm(data, { recursive: true, force: true });
  }
}

/** Writes the state in distribution's layout (docker/registry/v2/…) into `bucket`. */
async function populateDistribution(bucket: string, shape: Shape): Promise<number> {
  const client = await s3TestClient();
  const root = "docker/registry/v2";
  const blobKey = (d: string) => `${root}/blobs/sha256/${d.slice(7, 9)}/${d.slice(7)}/data`;
  const names = new Map<number, string>();
  let puts = 0;
  try {
    for (const rows of generate(shape, shape.layers * 10_000)) {
      for (const r of rows.repos) names.set(r.id, r.name);
      const objects: [string, Buffer][] = [];
      rows.blobs.digest.forEach((d, i) => objects.push([blobKey(d), blobContent(indexOf(d))]));
      rows.links.digest.forEach((d, i) => objects.push([`${root}/repositories/${names.get(rows.links.repo[i]!)}/_layers/sha256/${d.slice(7)}/link`, Buffer.from(d)]));
      rows.manifests.digest.forEach((d, i) => {
        objects.push([blobKey(d), rows.manifests.content[i]!]);
        objects.push([`${root}/repositories/${names.get(rows.manifests.repo[i]!)}/_manifests/revisions/sha256/${d.slice(7)}/link`, Buffer.from(d)]);
      });
      rows.tags.digest.forEach((d, i) => {
        const tag = `${root}/repositories/${names.get(rows.tags.repo[i]!)}/_manifests/tags/${rows.tags.name[i]}`;
        objects.push([`${tag}/current/link`, Buffer.from(d)]);
        objects.push([`${tag}/index/sha256/${d.slice(7)}/link`, Buffer.from(d)]);
      });
      await parallel(objects.length, 64, async (k) => {
        const [Key, Body] = objects[k]!;
        await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
      });
      puts += objects.length;
    }
  } finally {
    client.destroy();
  }
  return puts;
}

// generate() yields digests, not indexes: blob i's bytes are recomputed from a digest → index map.
const digestIndex = new Map<string, number>();
function indexOf(digest: string): number {
  const i = digestIndex.get(digest);
  if (i === undefined) throw new Error(`unknown blob ${digest}`);
  return i;
}

/** Distribution: the state in its bucket, one read-only node serving pulls, `garbage-collect` beside it. */
export async function distributionGc(blobs: number, reportAs: number, results: Results): Promise<void> {
  const shape = shapeOf(blobs);
  digestIndex.clear();
  for (let i = 0; i < blobs; i++) digestIndex.set(sha256(blobContent(i)), i);
  const bucket = uniqueBucket("bench-distribution-gc");
  await createBucket(bucket);
  let node: Awaited<ReturnType<typeof spawnDistributionS3>> | undefined;
  try {
    const t0 = performance.now();
    const puts = await populateDistribution(bucket, shape);
    results.notes.push(`distribution GC state (${blobs} blobs, ${puts} objects) PUT into its bucket in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    node = await spawnDistributionS3(bucket, randomBytes(16).toString("hex"), { readOnly: true });
    const url = node.url;
    const puller = startPuller(() => url);
    await new Promise((r) => setTimeout(r, 500));
    const env = { ...process.env };
    delete env.AWS_CA_BUNDLE;
    const gc = await timed(registryBinary(), ["garbage-collect", "--delete-untagged", join(node.dir, "config.yml")], env).finally(() => puller.stop());
    const eligible = /(\d+) blobs and (\d+) manifests eligible for deletion/.exec(gc.output);
    if (eligible && Number(eligible[1]) < plan(shape).g) results.errors.push(`distribution gc: ${eligible[0]}, expected ${plan(shape).g} blobs`);
    record(results, "distribution", blobs, gc.seconds, puller.counts, reportAs);
  } finally {
    if (node) await stopDistribution(node);
    await deleteBucket(bucket);
  }
}
