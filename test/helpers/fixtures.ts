import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';

/** OCI and Docker media types used by the fixtures. */
export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** A content descriptor as it appears in manifests and indexes. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** An image platform; `os` defaults to linux wherever it is optional. */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

/** Returns the OCI digest string `sha256:<hex>` of the given bytes. */
export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Timestamp used everywhere so that fixtures are byte-for-byte reproducible. */
export const EPOCH = '1970-01-01T00:00:00Z';

/** One entry of a tar archive: a regular file (with size) or a directory. */
export interface TarEntry {
  path: string;
  type: 'file' | 'dir';
  size: number;
}

const BLOCK = 512;

/** Two zero blocks that terminate every tar archive. */
export const TAR_TRAILER = Buffer.alloc(2 * BLOCK);

/**
 * Builds a POSIX ustar header block: uid/gid 0, mtime 0, mode 0644 for files
 * and 0755 for directories. Paths longer than 100 bytes use the prefix field.
 */
export function tarHeader(entry: TarEntry): Buffer {
  const header = Buffer.alloc(BLOCK);
  let path = entry.path.replace(/^\/+/, '');
  if (entry.type === 'dir' && !path.endsWith('/')) path += '/';
  const [prefix, name] = splitTarPath(path);
  if (entry.size >= 8 ** 11) throw new Error(`tar entry too large for ustar: ${entry.size}`);
  header.write(name, 0, 100, 'utf8');
  writeOctal(header, 100, 8, entry.type === 'dir' ? 0o755 : 0o644);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeOctal(header, 124, 12, entry.type === 'dir' ? 0 : entry.size);
  writeOctal(header, 136, 12, 0);
  header.write(' '.repeat(8), 148, 8, 'ascii');
  header.write(entry.type === 'dir' ? '5' : '0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  header.write('root', 265, 32, 'ascii');
  header.write('root', 297, 32, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return header;
}

/** Zero bytes needed after `size` bytes of content to reach a block boundary. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

function splitTarPath(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  // ustar splits at a slash: prefix (<=155 bytes) + '/' + name (<=100 bytes)
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') {
      return [prefix, name];
    }
  }
  throw new Error(`path too long for ustar: ${path}`);
}

/**
 * Lists the entries of a layer in archive order: every parent directory is
 * added and sorted before its children. Keys ending in '/' are directories.
 */
export function tarEntries(paths: string[]): { path: string; dir: boolean }[] {
  const all = new Map<string, boolean>();
  for (const raw of paths) {
    const clean = raw.replace(/^\/+/, '');
    const isDir = clean.endsWith('/');
    const parts = clean.replace(/\/+$/, '').split('/');
    for (let i = 1; i < parts.length; i++) all.set(`${parts.slice(0, i).join('/')}/`, true);
    all.set(isDir ? `${parts.join('/')}/` : clean, isDir);
  }
  return [...all.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, dir]) => ({ path, dir }));
}

/** Builds an uncompressed tar archive in memory from a path → content map. */
export function makeTar(files: Record<string, string | Buffer>): Buffer {
  const chunks: Buffer[] = [];
  for (const { path, dir } of tarEntries(Object.keys(files))) {
    if (dir) {
      chunks.push(tarHeader({ path, type: 'dir', size: 0 }));
      continue;
    }
    const raw = files[path] ?? files[`/${path}`] ?? '';
    const body = typeof raw === 'string' ? Buffer.from(raw) : raw;
    chunks.push(tarHeader({ path, type: 'file', size: body.length }), body, tarPadding(body.length));
  }
  chunks.push(TAR_TRAILER);
  return Buffer.concat(chunks);
}

/** Builds a gzip-compressed tar layer in memory (default: one small text file). */
export function makeLayer(files: Record<string, string | Buffer> = { 'hello.txt': 'hello from berth\n' }): Buffer {
  return gzipSync(makeTar(files));
}

/** An image built in memory, ready to be pushed blob by blob. */
export interface TestImage {
  config: Buffer;
  configDigest: string;
  layers: Buffer[];
  layerDigests: string[];
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
}

/** Builds an image config JSON whose diff_ids are the digests of the uncompressed layers. */
export function makeConfig(diffIds: string[], platform: Partial<Platform> = {}): Buffer {
  const config = {
    created: EPOCH,
    architecture: platform.architecture ?? 'amd64',
    os: platform.os ?? 'linux',
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['/bin/sh'],
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: EPOCH, created_by: `berth test fixture layer ${i}` })),
  };
  return Buffer.from(JSON.stringify(config));
}

function isGzip(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

function diffId(layer: Buffer): string {
  if (!isGzip(layer)) return sha256(layer);
  try {
    return sha256(gunzipSync(layer));
  } catch {
    return sha256(layer);
  }
}

/**
 * Builds a small valid image manifest over arbitrary layer bytes. Gzip layers
 * get the tar+gzip media type, anything else the plain tar type. Pass distinct
 * layers (e.g. `makeLayer({ id: randomUUID() })`) when digests must be unique.
 */
export function makeImage(
  opts: { layers?: Buffer[]; mediaType?: 'oci' | 'docker'; platform?: Partial<Platform>; annotations?: Record<string, string> } = {},
): TestImage {
  const docker = opts.mediaType === 'docker';
  const layers = opts.layers ?? [makeLayer()];
  const config = makeConfig(layers.map(diffId), opts.platform);
  const manifestMediaType = docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest;
  const layerType = (l: Buffer): string =>
    isGzip(l)
      ? docker ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip
      : docker ? MediaTypes.dockerLayer : MediaTypes.ociLayer;
  const manifestJson = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: {
      mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig,
      digest: sha256(config),
      size: config.length,
    },
    layers: layers.map((l) => ({ mediaType: layerType(l), digest: sha256(l), size: l.length })),
    ...(opts.annotations && !docker ? { annotations: opts.annotations } : {}),
  };
  const manifest = Buffer.from(JSON.stringify(manifestJson));
  return {
    config,
    configDigest: sha256(config),
    layers,
    layerDigests: layers.map((l) => sha256(l)),
    manifest,
    manifestDigest: sha256(manifest),
    manifestMediaType,
  };
}

/**
 * Builds an OCI image index (or a Docker manifest list) over the given child
 * manifest descriptors.
 */
export function makeIndex(
  manifests: Descriptor[],
  opts: { mediaType?: 'oci' | 'docker'; annotations?: Record<string, string> } = {},
): { index: Buffer; digest: string; mediaType: string } {
  const mediaType = opts.mediaType === 'docker' ? MediaTypes.dockerManifestList : MediaTypes.ociIndex;
  const json = {
    schemaVersion: 2,
    mediaType,
    manifests,
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const index = Buffer.from(JSON.stringify(json));
  return { index, digest: sha256(index), mediaType };
}
