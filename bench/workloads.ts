/**
 * The workloads of the side-by-side benchmark, each one a function of a registry base URL that
 * returns its figure. Only the OCI Distribution API over HTTP is used, so they run unchanged
 * against distribution and Berth.
 */
import { createHash, randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { Worker } from "node:worker_threads";
import { makeImage, type TestImage } from "../test/helpers/fixtures.js";

export const MiB = 1024 * 1024;

/** Blob content of `size` bytes: one random MiB with a counter stamped into every chunk. */
export class BlobSource {
  private readonly base = randomBytes(MiB);
  readonly digest: string;
  constructor(readonly size: number) {
    const hash = createHash("sha256");
    for (let i = 0; i * MiB < size; i++) hash.update(this.chunk(i));
    this.digest = `sha256:${hash.digest("hex")}`;
  }
  /** Chunk i (1 MiB, the last one possibly shorter). */
  chunk(i: number): Buffer {
    const c = Buffer.from(this.base.subarray(0, Math.min(MiB, this.size - i * MiB)));
    c.writeUInt32BE(i, 0);
    return c;
  }
  stream(): ReadableStream<Uint8Array> {
    let i = 0;
    return new ReadableStream<Uint8Array>({
      pull: (controller) => {
        if (i * MiB >= this.size) return controller.close();
        controller.enqueue(this.chunk(i++));
      },
    });
  }
  /** Bytes [start, start+len) where start is a multiple of 1 MiB. */
  range(start: number, len: number): Buffer {
    const parts: Buffer[] = [];
    for (let off = start; off < start + len && off < this.size; off += MiB) parts.push(this.chunk(off / MiB));
    return Buffer.concat(parts);
  }
}

async function check(res: Response, status: number, what: string): Promise<Response> {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

async function startUpload(url: string, repo: string): Promise<URL> {
  const res = await check(await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: "POST" }), 202, "POST upload");
  await res.arrayBuffer();
  return new URL(res.headers.get("location")!, url);
}

/** POST, then one PUT ?digest= carrying the whole streamed body. Returns seconds. */
export async function pushMonolithic(url: string, repo: string, blob: BlobSource): Promise<number> {
  const t0 = performance.now();
  const location = await startUpload(url, repo);
  location.searchParams.set("digest", blob.digest);
  const res = await fetch(location, {
    method: "PUT",
    headers: { "Content-Type": "application/octet-stream" },
    body: blob.stream(),
    duplex: "half",
  } as RequestInit);
  await (await check(res, 201, "PUT monolithic")).arrayBuffer();
  return (performance.now() - t0) / 1000;
}

/** POST, PATCHes of `chunk` bytes with Content-Range, then PUT ?digest=. Returns seconds. */
export async function pushChunked(url: string, repo: string, blob: BlobSource, chunk: number): Promise<number> {
  const t0 = performance.now();
  let location = await startUpload(url, repo);
  for (let start = 0; start < blob.size; start += chunk) {
    const data = blob.range(start, chunk);
    const res = await fetch(location, {
      method: "PATCH",
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Range": `${start}-${start + data.length - 1}`,
        "Content-Length": String(data.length),
      },
      body: data as unknown as BodyInit,
    });
    await (await check(res, 202, "PATCH")).arrayBuffer();
    location = new URL(res.headers.get("location")!, url);
  }
  location.searchParams.set("digest", blob.digest);
  await (await check(await fetch(location, { method: "PUT" }), 201, "PUT chunked")).arrayBuffer();
  return (performance.now() - t0) / 1000;
}

/** GET the blob, hashing it; throws unless size and sha256 match. Returns seconds. */
export async function pullBlob(url: string, repo: string, blob: Pick<BlobSource, "digest" | "size">): Promise<number> {
  const t0 = performance.now();
  const res = await check(await fetch(`${url}/v2/${repo}/blobs/${blob.digest}`), 200, "GET blob");
  const hash = createHash("sha256");
  let n = 0;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
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

async function putBlob(url: string, repo: string, data: Buffer, digest: string): Promise<void> {
  const location = await startUpload(url, repo);
  location.searchParams.set("digest", digest);
  const res = await fetch(location, {
    method: "PUT",
    headers: { "Content-Type": "application/octet-stream" },
    body: data as unknown as BodyInit,
  });
  await (await check(res, 201, "PUT blob")).arrayBuffer();
}

/** Config, layers, then the manifest under `tag`. */
export async function pushImage(url: string, repo: string, tag: string, image: TestImage): Promise<void> {
  await putBlob(url, repo, image.config, image.configDigest);
  for (let i = 0; i < image.layers.length; i++) await putBlob(url, repo, image.layers[i]!, image.layerDigests[i]!);
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: { "Content-Type": image.manifestMediaType },
    body: image.manifest as unknown as BodyInit,
  });
  await (await check(res, 201, "PUT manifest")).arrayBuffer();
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

export function closeAgent(): void {
  agent.destroy();
}
