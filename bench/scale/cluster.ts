/**
 * The two registries of the scale benchmark, each as several processes on one shared Ceph radosgw:
 * Berth nodes (`berth serve`) sharing a bucket and a PostgreSQL database, and distribution 2.8.2
 * nodes (Debian `docker-registry`) sharing a bucket of their own through its s3 driver. Each also
 * has one extra node that answers blob GETs with a redirect to the object store.
 */
import { CreateBucketCommand, DeleteObjectCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Digest } from "../../src/oci/digest.js";
import { scaleOutEnv, spawnBerth, type BerthProcess } from "../../test/helpers/berth.js";
import { deleteBucket, s3TestClient, uniqueBucket } from "../../test/helpers/services.js";
import { distributionS3Driver, spawnDistribution, type DistributionProcess } from "../servers.js";

/** One registry as the workloads see it. */
export interface Cluster {
  name: "berth" | "distribution";
  /** The nodes that serve blobs through themselves; clients go round-robin over them. */
  urls: string[];
  /** The node that redirects blob GETs to the object store. */
  redirectUrl: string;
  /** Every process of this registry (for CPU accounting). */
  pids: number[];
  bucket: string;
  /** The S3 key of a blob's bytes in `bucket`. */
  blobKey(digest: Digest): string;
  /** The next node, round-robin. */
  next(): string;
  stop(): Promise<void>;
}

function roundRobin(urls: string[]): () => string {
  let i = 0;
  return () => urls[i++ % urls.length]!;
}

/** Removes blobs' bytes straight from the bucket between rounds: Ceph's memstore holds 3 GiB. */
export async function dropObjects(cluster: Cluster, digests: Digest[]): Promise<void> {
  const client = await s3TestClient();
  try {
    for (const d of digests) await client.send(new DeleteObjectCommand({ Bucket: cluster.bucket, Key: cluster.blobKey(d) }));
  } finally {
    client.destroy();
  }
}

async function stopAll(stops: (() => Promise<unknown>)[]): Promise<void> {
  const results = await Promise.allSettled(stops.map((s) => s()));
  for (const r of results) if (r.status === "rejected") console.error("scale: stopping:", r.reason);
}

/** `nodes` Berth nodes plus a redirecting one on a fresh bucket and database. `env` is added to every node's. */
export async function startBerthCluster(nodes: number, env: Record<string, string> = {}, backend?: { env: Record<string, string>; cleanup(): Promise<void> }): Promise<Cluster & { env: Record<string, string> }> {
  const be = backend ?? (await scaleOutEnv());
  const dirs = await Promise.all(Array.from({ length: nodes + 1 }, () => mkdtemp(join(tmpdir(), "bench-scale-berth-"))));
  const base = { ...be.env, BERTH_LOG_LEVEL: "warn", ...env };
  // The first node runs the migrations alone; the others start at once after it.
  const first = await spawnBerth(dirs[0]!, base);
  const rest = await Promise.all(dirs.slice(1).map((d, i) => spawnBerth(d, i === nodes - 1 ? { ...base, BERTH_S3_REDIRECT: "true" } : base)));
  const procs: BerthProcess[] = [first, ...rest];
  const urls = procs.slice(0, nodes).map((p) => p.url);
  return {
    name: "berth",
    env: be.env,
    urls,
    redirectUrl: procs[nodes]!.url,
    pids: procs.map((p) => p.child.pid!),
    bucket: be.env.BERTH_S3_BUCKET!,
    blobKey: (d) => `blobs/sha256/${d.slice(7, 9)}/${d.slice(7)}`,
    next: roundRobin(urls),
    async stop() {
      await stopAll(procs.map((p) => () => p.stop()));
      if (!backend) await be.cleanup();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

/** The `storage:` lines of distribution's s3 driver on the test Ceph. */
export function distributionS3(bucket: string, redirect: boolean, extra: string[] = []): string[] {
  return [
    ...distributionS3Driver(bucket),
    "  redirect:",
    `    disable: ${!redirect}`,
    ...extra,
  ];
}

/** Creates an empty bucket on the test Ceph (distribution does not create its own). */
export async function createBucket(bucket: string): Promise<void> {
  const client = await s3TestClient();
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

/** One distribution node on `bucket`; `readOnly` puts it in maintenance read-only mode. */
export function spawnDistributionS3(bucket: string, secret: string, opts: { redirect?: boolean; readOnly?: boolean } = {}): Promise<DistributionProcess> {
  const readOnly = opts.readOnly ? ["  maintenance:", "    readonly:", "      enabled: true"] : [];
  return spawnDistribution({
    logLevel: "error",
    driver: distributionS3(bucket, opts.redirect ?? false, readOnly),
    http: [`  secret: ${secret}`],
  });
}

/** Stops a distribution process (TERM, KILL after 5 s) and removes its directory. */
export async function stopDistribution(p: DistributionProcess): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill("SIGTERM");
    const timer = setTimeout(() => p.child.kill("SIGKILL"), 5000);
    await p.exited;
    clearTimeout(timer);
  }
  await rm(p.dir, { recursive: true, force: true });
}

/** `nodes` distribution nodes plus a redirecting one, sharing a fresh bucket and the upload-state secret. */
export async function startDistributionCluster(nodes: number): Promise<Cluster> {
  const bucket = uniqueBucket("bench-distribution");
  await createBucket(bucket);
  const secret = randomBytes(16).toString("hex");
  const procs = await Promise.all(Array.from({ length: nodes + 1 }, (_, i) => spawnDistributionS3(bucket, secret, { redirect: i === nodes })));
  const urls = procs.slice(0, nodes).map((p) => p.url);
  return {
    name: "distribution",
    urls,
    redirectUrl: procs[nodes]!.url,
    pids: procs.map((p) => p.child.pid!),
    bucket,
    blobKey: (d) => `docker/registry/v2/blobs/sha256/${d.slice(7, 9)}/${d.slice(7)}/data`,
    next: roundRobin(urls),
    async stop() {
      await stopAll(procs.map((p) => () => stopDistribution(p)));
      await deleteBucket(bucket);
    },
  };
}
