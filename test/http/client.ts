/**
 * A small HTTP client and content builder shared by the HTTP conformance tests.
 * Every response to a /v2 request is checked for `Docker-Distribution-Api-Version: registry/2.0`.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";

export const API_VERSION = "registry/2.0";

export const MT = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

export const EMPTY_CONFIG = {
  mediaType: MT.ociEmpty,
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
  size: 2,
} as const;

export function digestOf(data: Uint8Array | string, algorithm: "sha256" | "sha512" = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** Random bytes, so that every test pushes content no other test pushed. */
export function randomBlob(size = 64): Buffer {
  return randomBytes(size);
}

/** A unique, valid repository name component. */
export function uniqueName(prefix = "repo"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export function descriptor(mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: digestOf(bytes), size: bytes.length, ...extra };
}

export function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  text(): string;
  json<T = any>(): T;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | string | ReadableStream<Uint8Array>;
}

export class Client {
  constructor(readonly base: string) {}

  /** `target` is a path (with query) or a Location header value, relative or absolute. */
  async request(method: string, target: string, options: RequestOptions = {}): Promise<Reply> {
    const url = new URL(target, this.base);
    const init: RequestInit & { duplex?: "half" } = { method, redirect: "manual" };
    if (options.headers) init.headers = options.headers;
    if (options.body !== undefined) {
      init.body = options.body as BodyInit;
      if (options.body instanceof ReadableStream) init.duplex = "half";
    }
    const res = await fetch(url, init);
    const body = Buffer.from(await res.arrayBuffer());
    if (url.pathname === "/v2" || url.pathname.startsWith("/v2/")) {
      assert.equal(
        res.headers.get("docker-distribution-api-version"),
        API_VERSION,
        `${method} ${url.pathname} (${res.status}) lacks Docker-Distribution-Api-Version: ${API_VERSION}`,
      );
    }
    return {
      status: res.status,
      headers: res.headers,
      body,
      text: () => body.toString("utf8"),
      json: () => JSON.parse(body.toString("utf8")),
    };
  }

  get(target: string, headers?: Record<string, string>) {
    return this.request("GET", target, headers ? { headers } : {});
  }
  head(target: string, headers?: Record<string, string>) {
    return this.request("HEAD", target, headers ? { headers } : {});
  }
  delete(target: string) {
    return this.request("DELETE", target);
  }

  /** Pushes a blob in one POST ?digest= request and checks that it was committed. */
  async pushBlob(name: string, bytes: Buffer): Promise<string> {
    const digest = digestOf(bytes);
    const res = await this.request("POST", `/v2/${name}/blobs/uploads/?digest=${digest}`, {
      headers: { "Content-Type": "application/octet-stream" },
      body: bytes,
    });
    assert.equal(res.status, 201, `pushing blob ${digest} to ${name}: ${res.status} ${res.text()}`);
    return digest;
  }

  /** Starts an upload session and returns its Location. */
  async startUpload(name: string, query = ""): Promise<string> {
    const res = await this.request("POST", `/v2/${name}/blobs/uploads/${query}`);
    assert.equal(res.status, 202, `starting upload in ${name}: ${res.status} ${res.text()}`);
    const location = res.headers.get("location");
    assert.ok(location, "upload start has a Location");
    return location;
  }

  /** Appends with a Content-Range, as the spec's chunked upload does. */
  patch(location: string, chunk: Buffer, start: number): Promise<Reply> {
    return this.request("PATCH", location, {
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Range": `${start}-${start + chunk.length - 1}`,
        "Content-Length": String(chunk.length),
      },
      body: chunk,
    });
  }

  putManifest(name: string, reference: string, bytes: Buffer, mediaType: string, query = ""): Promise<Reply> {
    return this.request("PUT", `/v2/${name}/manifests/${reference}${query}`, {
      headers: { "Content-Type": mediaType },
      body: bytes,
    });
  }

  /** Pushes a manifest and checks the 201. */
  async pushManifest(name: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.putManifest(name, reference, bytes, mediaType);
    assert.equal(res.status, 201, `pushing manifest ${reference} to ${name}: ${res.status} ${res.text()}`);
    return digestOf(bytes);
  }

  /** Pushes the blobs of `image`, then its manifest under `reference` (its digest by default). */
  async pushImage(name: string, image: Image, reference = image.digest): Promise<Image> {
    for (const blob of image.blobs) await this.pushBlob(name, blob);
    await this.pushManifest(name, reference, image.manifest, image.mediaType);
    return image;
  }

  async tags(name: string): Promise<string[]> {
    const res = await this.get(`/v2/${name}/tags/list`);
    assert.equal(res.status, 200, `tags of ${name}: ${res.status} ${res.text()}`);
    return res.json<{ tags: string[] }>().tags;
  }
}

export interface Image {
  manifest: Buffer;
  digest: string;
  mediaType: string;
  /** Config and layers, to push before the manifest. */
  blobs: Buffer[];
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageOptions {
  docker?: boolean;
  /** Number of random layers (default 1). */
  layers?: number;
  artifactType?: string;
  /** Config media type; with `emptyConfig` the OCI empty descriptor is used and not pushed. */
  configMediaType?: string;
  emptyConfig?: boolean;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An image (or artifact) manifest over fresh random blobs. */
export function makeImage(options: ImageOptions = {}): Image {
  const docker = options.docker === true;
  const mediaType = docker ? MT.dockerManifest : MT.ociManifest;
  const blobs: Buffer[] = [];
  let config: Descriptor;
  if (options.emptyConfig) {
    config = { ...EMPTY_CONFIG };
  } else {
    const bytes = json({ architecture: "amd64", os: "linux", rootfs: { type: "layers" }, nonce: randomBytes(8).toString("hex") });
    config = descriptor(options.configMediaType ?? (docker ? MT.dockerConfig : MT.ociConfig), bytes);
    blobs.push(bytes);
  }
  const layers: Descriptor[] = [];
  for (let i = 0; i < (options.layers ?? 1); i++) {
    const bytes = randomBlob(100 + i);
    blobs.push(bytes);
    layers.push(descriptor(docker ? MT.dockerLayer : MT.ociLayer, bytes));
  }
  const body: Record<string, unknown> = { schemaVersion: 2, mediaType };
  if (options.artifactType) body.artifactType = options.artifactType;
  body.config = config;
  body.layers = layers;
  if (options.subject) body.subject = options.subject;
  if (options.annotations) body.annotations = options.annotations;
  const manifest = json(body);
  return { manifest, digest: digestOf(manifest), mediaType, blobs, config, layers };
}

/** An OCI index (or Docker manifest list) over manifests already built. */
export function makeIndex(
  children: { manifest: Buffer; mediaType: string }[],
  options: { docker?: boolean; subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> } = {},
): { manifest: Buffer; digest: string; mediaType: string } {
  const mediaType = options.docker ? MT.dockerList : MT.ociIndex;
  const body: Record<string, unknown> = { schemaVersion: 2, mediaType };
  if (options.artifactType) body.artifactType = options.artifactType;
  body.manifests = children.map((c, i) =>
    descriptor(c.mediaType, c.manifest, { platform: { architecture: i % 2 ? "arm64" : "amd64", os: "linux" } }),
  );
  if (options.subject) body.subject = options.subject;
  if (options.annotations) body.annotations = options.annotations;
  const manifest = json(body);
  return { manifest, digest: digestOf(manifest), mediaType };
}

export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: any;
}

/** Asserts an OCI error response: status, JSON content type, and the first error's code. */
export function assertError(res: Reply, status: number, code: string, context = ""): RegistryErrorEntry {
  const what = `${context}${context ? ": " : ""}expected ${status} ${code}, got ${res.status} ${res.text()}`;
  assert.equal(res.status, status, what);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/, what);
  const body = res.json<{ errors?: RegistryErrorEntry[] }>();
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, what);
  const first = body.errors[0]!;
  assert.equal(first.code, code, what);
  assert.equal(typeof first.message, "string", what);
  return first;
}

/** Resolves a Location header value to its path (with query). */
export function locationPath(res: Reply, base: string): string {
  const location = res.headers.get("location");
  assert.ok(location, `expected a Location header on ${res.status}`);
  const url = new URL(location, base);
  return url.pathname + url.search;
}
