/**
 * The workloads of the side-by-side benchmark, each one a function of a registry base URL that
 * returns its figure. Only the OCI Distribution API over HTTP is used, so they run unchanged
 * against distribution and Berth. Pushes and pulls go through Berth's registry client (src/client),
 * the one the pull-through cache and the tests use; the manifest load is raw requests, its figure
 * being the server's latency.
 */
import { createHash, randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { createRegistryClient, type RegistryClient } from "../src/client/registry-client.js";
import type { Digest } from "../src/oci/digest.js";
import { makeImage, type TestImage } from "../test/helpers/fixtures.js";

export const MiB = 1024 * 1024;

/** Blob content of `size` bytes: one random MiB with a counter stamped into every chunk. */
export class BlobSource {
  private readonly base = randomBytes(MiB);
  readonly digest: Digest;
  constructor(readonly size: number) {
    const hash = createHash("sha256");
    for (let i = 0; i * MiB < size; i++) hash.update(this.chunk(i));
    this.digest = `sha256:${hash.digest("hex")}` as Digest;
  }
  /** Chunk i (1 MiB, the last one possibly shorter). */
  chunk(i: number): Buffer {
    const c = Buffer.from(this.base.subarray(0, Math.min(MiB, this.size - i * MiB)));
    c.writeUInt32BE(i, 0);
    return c;
  }
  /** The content as a stream of 1 MiB chunks, made as it is read. */
  stream(): Readable {
    const chunks = function* (this: BlobSource) {
      for (let i = 0; i * MiB < this.size; i++) yield this.chunk(i);
    };
    return Readable.from(chunks.call(this), { objectMode: false });
  }
}

const clients = new Map<string, RegistryClient>();

/** One client per registry for the whole run, so connections stay open between workloads (as fetch's pool kept them). */
function clientFor(url: string): RegistryClient {
  let client = clients.get(url);
  if (!client) {
    client = createRegistryClient({ url, timeoutMs: 120_000, maxSockets: 64, userAgent: "berth-bench" });
    clients.set(url, client);
  }
  return client;
}

/** Uploads without the HEAD a client sends first: the figures measure uploads (and stay comparable with earlier results). */
const UPLOAD = { checkExists: false } as const;

/** POST, then one PUT ?digest= carrying the whole streamed body. Returns seconds. */
export async function pushMonolithic(url: string, repo: string, blob: BlobSource): Promise<number> {
  const t0 = performance.now();
  await clientFor(url).pushBlob(repo, { size: blob.size, digest: blob.digest, open: () => blob.stream() }, UPLOAD);
  return (performance.now() - t0) / 1000;
}

/** POST, PATCHes of `chunk` bytes with Content-Range, then PUT ?digest=. Returns seconds. */
export async function pushChunked(url: string, repo: string, blob: BlobSource, chunk: number): Promise<number> {
  const t0 = performance.now();
  await clientFor(url).pushBlob(repo, { size: blob.size, digest: blob.digest, open: () => blob.stream() }, { ...UPLOAD, chunkSize: chunk });
  return (performance.now() - t0) / 1000;
}

/** GET the blob, hashing it; throws unless size and sha256 match. Returns seconds. */
export async function pullBlob(url: string, repo: string, blob: Pick<BlobSource, "digest" | "size">): Promise<number> {
  const t0 = performance.now();
  const answer = await clientFor(url).blob(repo, blob.digest);
  if (!answer) throw new Error(`GET blob ${blob.digest}: 404`);
  const hash = createHash("sha256");
  let n = 0;
  for await (const c of answer.stream as AsyncIterable<Buffer>) {
    hash.update(c);
    n += c.length;
  }
  if (n !== blob.size || `sha256:${hash.digest("hex")}` !== blob.digest) throw new Error(`pulled blob differs (${n} bytes)`);
  return (performance.now() - t0) / 1000;
}

/**
 * `n` pulls of the blob at once, each on its own thread (started before the clock) and verified.
 * Returns wall seconds.
 */
export async function pullConcurrent(url: string, repo: string, blob: BlobSource, n: number): Promise<number> {
  const workerData = { url, repo, digest: blob.digest, size: blob.size };
  const workers = Array.from({ length: n }, () => new Worker(new URL("./pull-worker.js", import.meta.url), { workerData }));
  const next = (w: Worker) =>
    new Promise<void>((resolve, reject) => {
      w.once("error", reject);
      w.once("message", (m) => (m === "done" || m === "ready" ? resolve() : reject(new Error(String(m)))));
    });
  try {
    await Promise.all(workers.map(next));
    const t0 = performance.now();
    const finished = workers.map(next);
    for (const w of workers) w.postMessage("go");
    await Promise.all(finished);
    return (performance.now() - t0) / 1000;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Config, layers, then the manifest under `tag`: 5 requests for a one-layer image (POST and PUT per blob). */
export async function pushImage(url: string, repo: string, tag: string, image: TestImage): Promise<void> {
  const client = clientFor(url);
  await client.pushBlob(repo, image.config, UPLOAD);
  for (const layer of image.layers) await client.pushBlob(repo, layer, UPLOAD);
  await client.putManifest(repo, tag, image.manifest, image.manifestMediaType);
}

/** `count` distinct small images (config + one 4 KiB layer), `parallel` at a time. Returns seconds. */
export async function pushSmallImages(url: string, repo: string, prefix: string, count: number, parallel: number): Promise<number> {
  const images = Array.from({ length: count }, () => makeImage({ layers: [randomBytes(4096)] }));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < count; i = next++) await pushImage(url, repo, `${prefix}-${i}`, images[i]!);
    }),
  );
  return (performance.now() - t0) / 1000;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function once(target: URL, method: string, accept: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method, agent, headers: { Accept: accept } },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`${method} ${target.pathname}: HTTP ${res.statusCode}`))));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** `connections` loops issuing `method` on `target` for `seconds`; latencies in ms. */
export async function manifestLoad(target: string, method: "GET" | "HEAD", accept: string, seconds: number, connections: number): Promise<LoadResult> {
  const u = new URL(target);
  const latencies: number[] = [];
  // warm the connection pool
  await Promise.all(Array.from({ length: connections }, () => once(u, method, accept)));
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await once(u, method, accept);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, seconds: elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** Closes the manifest load's connections and the registry clients. */
export function closeAgent(): void {
  agent.destroy();
  for (const client of clients.values()) client.close();
  clients.clear();
}
