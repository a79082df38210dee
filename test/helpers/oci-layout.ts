import { createCipheriv, createHash, randomBytes, randomUUID, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  MediaTypes,
  TAR_TRAILER,
  makeConfig,
  sha256,
  tarEntries,
  tarHeader,
  tarPadding,
  type Descriptor,
  type Platform,
} from './fixtures.js';

/** A layer made of the given files; keys are paths, keys ending in '/' are directories. */
export interface FilesLayerSpec {
  files: Record<string, string | Buffer>;
  /** Store as gzip (default) or as plain `application/vnd.oci.image.layer.v1.tar`. */
  gzip?: boolean;
}

/**
 * A layer holding one file (default `/blob.bin`) of pseudo-random bytes,
 * streamed to disk. With a seed the bytes are reproducible; without, random.
 */
export interface RandomLayerSpec {
  randomBytes: number;
  seed?: number;
  path?: string;
  gzip?: boolean;
}

export type LayerSpec = FilesLayerSpec | RandomLayerSpec;

/** Annotation carrying the tag of a manifest in an OCI layout's index.json. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

const CHUNK = 1 << 20;

/** Digests of an image written into a layout. */
export interface ImageLayout {
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
  dir: string;
  ref: string;
}

/**
 * Writes a single-platform OCI image into the layout at `dir` (created if
 * needed) and tags it `ref` in index.json; other refs already there are kept.
 */
export async function writeImageLayout(
  dir: string,
  opts: { ref?: string; arch?: string; os?: string; variant?: string; layers: LayerSpec[]; annotations?: Record<string, string> },
): Promise<ImageLayout> {
  const ref = opts.ref ?? 'latest';
  await initLayout(dir);
  const image = await writeImageBlobs(dir, {
    platform: { architecture: opts.arch ?? 'amd64', os: opts.os ?? 'linux', variant: opts.variant },
    layers: opts.layers,
    annotations: opts.annotations,
  });
  await tagInIndex(dir, ref, image.descriptor);
  return { manifestDigest: image.descriptor.digest, configDigest: image.configDigest, layerDigests: image.layerDigests, dir, ref };
}

/** One platform of a multi-arch image. */
export interface PlatformSpec {
  arch: string;
  os?: string;
  variant?: string;
  layers: LayerSpec[];
}

/** Digests of a multi-arch image written into a layout. */
export interface MultiArchLayout {
  indexDigest: string;
  manifestDigests: string[];
  children: (Omit<ImageLayout, 'dir' | 'ref'> & { platform: Platform })[];
  dir: string;
  ref: string;
}

/**
 * Writes an OCI image index whose children are per-platform image manifests,
 * tagging the index (not the children) as `ref` in index.json.
 */
export async function writeMultiArchLayout(
  dir: string,
  opts: { ref?: string; platforms: PlatformSpec[]; annotations?: Record<string, string> },
): Promise<MultiArchLayout> {
  const ref = opts.ref ?? 'latest';
  await initLayout(dir);
  const children: MultiArchLayout['children'] = [];
  const descriptors: Descriptor[] = [];
  for (const p of opts.platforms) {
    const platform: Platform = { architecture: p.arch, os: p.os ?? 'linux', ...(p.variant ? { variant: p.variant } : {}) };
    const image = await writeImageBlobs(dir, { platform, layers: p.layers });
    descriptors.push({ ...image.descriptor, platform });
    children.push({ manifestDigest: image.descriptor.digest, configDigest: image.configDigest, layerDigests: image.layerDigests, platform });
  }
  const index = await writeJsonBlob(dir, MediaTypes.ociIndex, {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: descriptors,
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  });
  await tagInIndex(dir, ref, index);
  return { indexDigest: index.digest, manifestDigests: descriptors.map((d) => d.digest), children, dir, ref };
}

/**
 * Writes an OCI 1.1 artifact manifest (empty config, `artifactType` set) over
 * the given blobs, optionally referring to `subject`, and tags it `ref`.
 */
export async function writeArtifactLayout(
  dir: string,
  opts: {
    ref?: string;
    artifactType: string;
    blobs: { content: string | Buffer; mediaType?: string }[];
    subject?: Descriptor;
    annotations?: Record<string, string>;
  },
): Promise<{ manifestDigest: string; blobDigests: string[]; dir: string; ref: string }> {
  const ref = opts.ref ?? 'latest';
  await initLayout(dir);
  const empty = await writeBlob(dir, MediaTypes.ociEmpty, Buffer.from('{}'));
  const layers: Descriptor[] = [];
  for (const b of opts.blobs) {
    const content = typeof b.content === 'string' ? Buffer.from(b.content) : b.content;
    layers.push(await writeBlob(dir, b.mediaType ?? 'application/octet-stream', content));
  }
  const manifest = await writeJsonBlob(dir, MediaTypes.ociManifest, {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: opts.artifactType,
    config: empty,
    layers,
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  });
  await tagInIndex(dir, ref, { ...manifest, artifactType: opts.artifactType });
  return { manifestDigest: manifest.digest, blobDigests: layers.map((l) => l.digest), dir, ref };
}

async function initLayout(dir: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

async function tagInIndex(dir: string, ref: string, descriptor: Descriptor): Promise<void> {
  const path = join(dir, 'index.json');
  let manifests: Descriptor[] = [];
  try {
    manifests = (JSON.parse(await readFile(path, 'utf8')) as { manifests: Descriptor[] }).manifests;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  manifests = manifests.filter((m) => m.annotations?.[REF_NAME] !== ref);
  manifests.push({ ...descriptor, annotations: { ...descriptor.annotations, [REF_NAME]: ref } });
  await writeFile(path, JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
}

async function writeImageBlobs(
  dir: string,
  opts: { platform: Partial<Platform>; layers: LayerSpec[]; annotations?: Record<string, string> },
): Promise<{ descriptor: Descriptor; configDigest: string; layerDigests: string[] }> {
  const layers: { descriptor: Descriptor; diffId: string }[] = [];
  for (const spec of opts.layers) layers.push(await writeLayer(dir, spec));
  const config = await writeBlob(dir, MediaTypes.ociConfig, makeConfig(layers.map((l) => l.diffId), opts.platform));
  const descriptor = await writeJsonBlob(dir, MediaTypes.ociManifest, {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config,
    layers: layers.map((l) => l.descriptor),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  });
  return { descriptor, configDigest: config.digest, layerDigests: layers.map((l) => l.descriptor.digest) };
}

function blobPath(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

async function writeBlob(dir: string, mediaType: string, content: Buffer): Promise<Descriptor> {
  const digest = sha256(content);
  await writeFile(blobPath(dir, digest), content);
  return { mediaType, digest, size: content.length };
}

async function writeJsonBlob(dir: string, mediaType: string, value: unknown): Promise<Descriptor> {
  return writeBlob(dir, mediaType, Buffer.from(JSON.stringify(value)));
}

/** A pass-through stream that hashes and counts what flows through it. */
function tap(hash: Hash, counter = { bytes: 0 }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      counter.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

/**
 * Streams one layer to a temporary file, hashing the tar (diff_id) and the
 * stored bytes (digest) on the way, then renames it to its digest.
 */
async function writeLayer(dir: string, spec: LayerSpec): Promise<{ descriptor: Descriptor; diffId: string }> {
  const gzip = spec.gzip ?? true;
  const tmp = join(dir, 'blobs', 'sha256', `.tmp-${randomUUID()}`);
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  const blobCount = { bytes: 0 };
  const source = Readable.from('files' in spec ? filesTar(spec.files) : randomTar(spec));
  try {
    if (gzip) {
      // random data does not compress: level 0 stores it, still valid gzip, ~10x faster than level 1
      const zip = createGzip({ level: 'files' in spec ? 6 : 0, chunkSize: 1 << 20 });
      await pipeline(source, tap(tarHash), zip, tap(blobHash, blobCount), createWriteStream(tmp));
    } else {
      await pipeline(source, tap(tarHash), tap(blobHash, blobCount), createWriteStream(tmp));
    }
    const digest = `sha256:${blobHash.digest('hex')}`;
    await rename(tmp, blobPath(dir, digest));
    return {
      descriptor: { mediaType: gzip ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer, digest, size: blobCount.bytes },
      diffId: `sha256:${tarHash.digest('hex')}`,
    };
  } finally {
    await rm(tmp, { force: true });
  }
}

async function* filesTar(files: Record<string, string | Buffer>): AsyncGenerator<Buffer> {
  for (const { path, dir } of tarEntries(Object.keys(files))) {
    if (dir) {
      yield tarHeader({ path, type: 'dir', size: 0 });
      continue;
    }
    const raw = files[path] ?? files[`/${path}`] ?? '';
    const body = typeof raw === 'string' ? Buffer.from(raw) : raw;
    yield tarHeader({ path, type: 'file', size: body.length });
    yield body;
    yield tarPadding(body.length);
  }
  yield TAR_TRAILER;
}

async function* randomTar(spec: RandomLayerSpec): AsyncGenerator<Buffer> {
  const path = (spec.path ?? '/blob.bin').replace(/^\/+/, '');
  for (const { path: p, dir } of tarEntries([path])) {
    yield tarHeader({ path: p, type: dir ? 'dir' : 'file', size: dir ? 0 : spec.randomBytes });
  }
  yield* randomChunks(spec.randomBytes, spec.seed);
  yield tarPadding(spec.randomBytes);
  yield TAR_TRAILER;
}

/**
 * Yields `total` pseudo-random bytes in 1 MiB chunks. Seeded output is the
 * AES-128-CTR keystream for a key derived from the seed: fast and reproducible.
 */
export async function* randomChunks(total: number, seed?: number): AsyncGenerator<Buffer> {
  const cipher =
    seed === undefined
      ? undefined
      : createCipheriv('aes-128-ctr', createHash('sha256').update(`berth-seed:${seed}`).digest().subarray(0, 16), Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let left = total; left > 0; left -= CHUNK) {
    const n = Math.min(CHUNK, left);
    yield cipher ? cipher.update(zeros.subarray(0, n)) : randomBytes(n);
  }
}
