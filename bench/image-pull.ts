/**
 * An image pull as docker does it, with Berth's own registry client: the manifest, then the config
 * and the layers three at a time, every blob streamed through sha256 and discarded. Used by the
 * pull-through cache benchmark against distribution and Berth alike.
 */
import { createHash, randomBytes } from "node:crypto";
import { createRegistryClient, type RegistryClient } from "../src/client/registry-client.js";
import { digestOf, type Digest } from "../src/oci/digest.js";
import { MediaType } from "../src/oci/media-types.js";

/** An image held in memory, with what a pull must give back. */
export interface BenchImage {
  manifest: Buffer;
  config: { digest: Digest; bytes: Buffer };
  layers: { digest: Digest; bytes: Buffer }[];
  /** Bytes of every blob (config and layers; the manifest is not counted). */
  bytes: number;
}

/** `count` layers of `size` random (incompressible) bytes each. */
export function makeBenchImage(count: number, size: number): BenchImage {
  const layers = Array.from({ length: count }, () => {
    const bytes = randomBytes(size);
    return { digest: digestOf(bytes), bytes };
  });
  const configBytes = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) } }));
  const config = { digest: digestOf(configBytes), bytes: configBytes };
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config.digest, size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: l.digest, size: l.bytes.length })),
  }));
  return { manifest, config, layers, bytes: configBytes.length + layers.reduce((n, l) => n + l.bytes.length, 0) };
}

/** Pushes the image under `repo:tag`; returns seconds. */
export async function pushBenchImage(url: string, repo: string, tag: string, image: BenchImage): Promise<number> {
  const client = createRegistryClient({ url, userAgent: "berth-bench" });
  try {
    const t0 = performance.now();
    for (const layer of image.layers) await client.pushBlob(repo, layer.bytes);
    await client.pushBlob(repo, image.config.bytes);
    await client.putManifest(repo, tag, image.manifest, MediaType.OciManifest);
    return (performance.now() - t0) / 1000;
  } finally {
    client.close();
  }
}

/** One blob as the client received it. */
export interface BlobTiming {
  digest: Digest;
  /** From the request to its first body byte. */
  ttfbMs: number;
  /** From the chunk before the last to the last (a cache holding the last byte back until the blob is stored shows here). */
  tailMs: number;
  /** The answer's Cache-Status header (Berth's pull-through cache), if any. */
  cacheStatus: string | undefined;
}

export interface PullResult {
  seconds: number;
  bytes: number;
  /** Config first, then the layers in the order their requests were sent. */
  blobs: BlobTiming[];
}

/** GETs one blob, hashing it as it streams; throws unless size and digest match. */
async function fetchBlob(client: RegistryClient, repo: string, expected: { digest: Digest; bytes: Buffer }): Promise<BlobTiming> {
  const t0 = performance.now();
  const answer = await client.blob(repo, expected.digest);
  if (!answer) throw new Error(`${repo}@${expected.digest}: 404`);
  const hash = createHash("sha256");
  let ttfbMs = NaN;
  let previous = NaN;
  let last = NaN;
  let n = 0;
  for await (const chunk of answer.stream as AsyncIterable<Buffer>) {
    const now = performance.now();
    if (n === 0) ttfbMs = now - t0;
    previous = last;
    last = now;
    hash.update(chunk);
    n += chunk.length;
  }
  const got = `sha256:${hash.digest("hex")}`;
  if (n !== expected.bytes.length || got !== expected.digest) {
    throw new Error(`${repo}@${expected.digest}: pulled ${n} bytes hashing to ${got}`);
  }
  const cacheStatus = answer.stream.headers["cache-status"];
  return { digest: expected.digest, ttfbMs, tailMs: last - previous, cacheStatus: typeof cacheStatus === "string" ? cacheStatus : undefined };
}

/**
 * Pulls `repo:tag` with a fresh client (new connections, like a new `docker pull`): the manifest,
 * the config, then the layers `parallel` at a time. Throws unless the manifest and every blob
 * match `image`.
 */
export async function pullBenchImage(url: string, repo: string, tag: string, image: BenchImage, parallel = 3): Promise<PullResult> {
  const client = createRegistryClient({ url, userAgent: "berth-bench" });
  try {
    const t0 = performance.now();
    const manifest = await client.manifest(repo, tag);
    if (!manifest?.content?.equals(image.manifest)) throw new Error(`${repo}:${tag}: the manifest differs`);
    const blobs = [await fetchBlob(client, repo, image.config)];
    let next = 0;
    const layers: BlobTiming[] = [];
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (let i = next++; i < image.layers.length; i = next++) layers[i] = await fetchBlob(client, repo, image.layers[i]!);
      }),
    );
    return { seconds: (performance.now() - t0) / 1000, bytes: image.bytes, blobs: blobs.concat(layers) };
  } finally {
    client.close();
  }
}

/**
 * Time to first byte of the image's first layer with nothing else in flight: the manifest is
 * fetched first (as a pull does; it also opens the connections), then the layer is requested and
 * read to the end (so a cache stores it). Returns the layer's timing.
 */
export async function firstLayerTtfb(url: string, repo: string, tag: string, image: BenchImage): Promise<BlobTiming> {
  const client = createRegistryClient({ url, userAgent: "berth-bench" });
  try {
    const manifest = await client.manifest(repo, tag);
    if (!manifest?.content?.equals(image.manifest)) throw new Error(`${repo}:${tag}: the manifest differs`);
    return await fetchBlob(client, repo, image.layers[0]!);
  } finally {
    client.close();
  }
}
