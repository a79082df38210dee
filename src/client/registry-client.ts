import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { digestAlgorithm, digestOf, tryParseDigest, type Digest } from "../oci/digest.js";
import { MANIFEST_MEDIA_TYPES, MediaType } from "../oci/media-types.js";
import { createClientAuth, type Credentials } from "./auth.js";
import { createConnections, discard, readAll, RegistryClientError, retryAfterMs, send } from "./transport.js";

export { RegistryClientError } from "./transport.js";
export type { Credentials } from "./auth.js";

export interface RegistryClientOptions {
  /** The registry's base URL, `http(s)://host[:port]` (a path prefix is kept). */
  url: string;
  credentials?: Credentials;
  /** Longest silence allowed on a request (connecting, between bytes); default 30 s. */
  timeoutMs?: number;
  userAgent?: string;
  /** Sees every response's headers (rate-limit accounting). */
  observe?: (res: IncomingMessage) => void;
  /** Connections kept per scheme; default 32. */
  maxSockets?: number;
}

/** A manifest as a registry answered it: by GET with its bytes, by HEAD without. */
export interface ManifestAnswer {
  digest: Digest;
  mediaType: string;
  size: number;
  content?: Buffer;
}

/** A blob's body, streaming; consume or destroy `stream`. `size` is the Content-Length when sent. */
export interface BlobAnswer {
  size?: number;
  /** For a range request, where the answered bytes start (0 otherwise). */
  start: number;
  stream: IncomingMessage;
}

export interface TagList {
  name: string;
  tags: string[];
  /** The next page's `last`, when the registry said there is more (`Link` header). */
  next?: string;
}

/** Content to push as a blob: bytes in memory, or a stream made on demand with its size and digest. */
export type BlobSource = Buffer | { size: number; digest: Digest; open: () => Readable };

/**
 * A client of the OCI distribution API (and Docker Registry V2): the one Berth uses to talk to an
 * upstream registry, and the one its tests and benchmarks push and pull with. It authenticates the
 * way registries ask (the Docker token flow, anonymous or with credentials, or Basic), keeps
 * connections alive, streams blobs both ways, and verifies manifest digests. A 404 resolves
 * undefined; any other failure rejects with RegistryClientError.
 */
export interface RegistryClient {
  readonly url: URL;
  /** GET /v2/: resolves when the registry answers 200 (authenticating if it asks). */
  ping(): Promise<void>;
  /** A manifest by tag or digest; `accept` defaults to every manifest type Berth stores. */
  manifest(repo: string, reference: string, options?: { method?: "GET" | "HEAD"; accept?: readonly string[] }): Promise<ManifestAnswer | undefined>;
  /** Streams a blob, following redirects (to an object store) without sending credentials to another host. */
  blob(repo: string, digest: Digest, range?: { start: number; end?: number }): Promise<BlobAnswer | undefined>;
  blobSize(repo: string, digest: Digest): Promise<number | undefined>;
  /** Pushes a blob unless the registry has it (monolithic, or in `chunkSize` PATCHes); `mountFrom` tries a cross-repository mount first. */
  pushBlob(repo: string, source: BlobSource, options?: { chunkSize?: number; mountFrom?: string }): Promise<Digest>;
  putManifest(repo: string, reference: string, content: Buffer, mediaType: string): Promise<Digest>;
  deleteManifest(repo: string, reference: string): Promise<void>;
  tags(repo: string, page?: { n?: number; last?: string }): Promise<TagList | undefined>;
  /** The referrers index of `digest` (spec 1.1); undefined when the registry has no referrers API (404). */
  referrers(repo: string, digest: Digest, artifactType?: string): Promise<{ content: Buffer; filtersApplied?: string } | undefined>;
  /** How many bearer tokens this client fetched so far. */
  readonly tokensFetched: number;
  close(): void;
}

const MAX_MANIFEST = 4 << 20;
const REDIRECTS = [301, 302, 303, 307, 308];

function errorOf(res: IncomingMessage, body: Buffer, what: string): RegistryClientError {
  let code: string | undefined;
  let message = "";
  try {
    const first = JSON.parse(body.toString("utf8"))?.errors?.[0];
    code = typeof first?.code === "string" ? first.code : undefined;
    message = typeof first?.message === "string" ? first.message : "";
  } catch {
    // not an OCI error body
  }
  const status = res.statusCode ?? 0;
  return new RegistryClientError("status", `${what}: ${status}${code ? ` ${code}` : ""}${message ? ` (${message})` : ""}`, status, code, retryAfterMs(res.headers));
}

async function failure(res: IncomingMessage, what: string): Promise<RegistryClientError> {
  const body = await readAll(res, 64 << 10).catch(() => Buffer.alloc(0));
  return errorOf(res, body, what);
}

const scopeOf = (repo: string, actions: string) => `repository:${repo}:${actions}`;

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const base = new URL(options.url.replace(/\/+$/, "") + "/");
  const timeoutMs = options.timeoutMs ?? 30_000;
  const userAgent = options.userAgent ?? "berth";
  const connections = createConnections(options.maxSockets);
  const auth = createClientAuth({ ...(options.credentials ? { credentials: options.credentials } : {}), connections, timeoutMs, userAgent });
  const urlOf = (path: string) => new URL(path.replace(/^\//, ""), base);

  /** One request with authentication: retried once after a 401 that taught us how to authenticate. */
  async function call(method: string, target: string | URL, scope: string | undefined, extra: { headers?: Record<string, string>; body?: Buffer | (() => Readable) } = {}): Promise<IncomingMessage> {
    const url = typeof target === "string" ? urlOf(target) : target;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { "user-agent": userAgent, ...extra.headers };
      const authorization = await auth.header(scope);
      if (authorization) headers.authorization = authorization;
      const body = typeof extra.body === "function" ? extra.body() : extra.body;
      const res = await send(url, connections, { method, headers, timeoutMs, ...(body !== undefined ? { body } : {}) });
      options.observe?.(res);
      if (res.statusCode === 401 && attempt === 0) {
        discard(res);
        if (await auth.challenged(res, scope)) continue;
      }
      return res;
    }
  }

  async function manifest(repo: string, reference: string, opts: { method?: "GET" | "HEAD"; accept?: readonly string[] } = {}): Promise<ManifestAnswer | undefined> {
    const method = opts.method ?? "GET";
    const accept = (opts.accept ?? [...MANIFEST_MEDIA_TYPES, MediaType.DockerSchema1Signed]).join(", ");
    const res = await call(method, `v2/${repo}/manifests/${reference}`, scopeOf(repo, "pull"), { headers: { accept } });
    if (res.statusCode === 404) {
      discard(res);
      return undefined;
    }
    if (res.statusCode !== 200) throw await failure(res, `manifest ${repo}:${reference}`);
    const mediaType = String(res.headers["content-type"] ?? "").split(";")[0]!.trim();
    const header = tryParseDigest(String(res.headers["docker-content-digest"] ?? ""));
    const wanted = tryParseDigest(reference);
    if (method === "HEAD") {
      discard(res);
      const digest = wanted ?? header;
      if (!digest) throw new RegistryClientError("status", `manifest ${repo}:${reference}: HEAD answered no Docker-Content-Digest`, 200);
      return { digest, mediaType, size: Number(res.headers["content-length"] ?? 0) };
    }
    const content = await readAll(res, MAX_MANIFEST);
    const expected = wanted ?? header;
    const digest = digestOf(content, expected ? digestAlgorithm(expected) : "sha256");
    if (expected && expected !== digest) {
      throw new RegistryClientError("status", `manifest ${repo}:${reference}: content digest ${digest} is not ${expected}`, 200, "DIGEST_INVALID");
    }
    return { digest, mediaType, size: content.length, content };
  }

  async function blob(repo: string, digest: Digest, range?: { start: number; end?: number }): Promise<BlobAnswer | undefined> {
    const headers: Record<string, string> = {};
    if (range) headers.range = `bytes=${range.start}-${range.end ?? ""}`;
    let res = await call("GET", `v2/${repo}/blobs/${digest}`, scopeOf(repo, "pull"), { headers });
    let url = urlOf(`v2/${repo}/blobs/${digest}`);
    for (let hops = 0; REDIRECTS.includes(res.statusCode ?? 0) && hops < 5; hops++) {
      discard(res);
      const next = new URL(String(res.headers.location ?? ""), url);
      // Credentials stay with the registry: an object store's presigned URL carries its own.
      res = next.origin === base.origin
        ? await call("GET", next, scopeOf(repo, "pull"), { headers })
        : await send(next, connections, { method: "GET", headers: { "user-agent": userAgent, ...headers }, timeoutMs });
      url = next;
    }
    if (res.statusCode === 404) {
      discard(res);
      return undefined;
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) throw await failure(res, `blob ${repo}@${digest}`);
    const length = res.headers["content-length"];
    const start = res.statusCode === 206 ? Number(/bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""))?.[1] ?? 0) : 0;
    return { ...(length !== undefined ? { size: Number(length) } : {}), start, stream: res };
  }

  async function uploadLocation(res: IncomingMessage, what: string): Promise<URL> {
    const location = res.headers.location;
    discard(res);
    if (!location) throw new RegistryClientError("status", `${what}: no Location in the answer`, res.statusCode);
    return new URL(location, base);
  }

  async function pushBlob(repo: string, source: BlobSource, opts: { chunkSize?: number; mountFrom?: string } = {}): Promise<Digest> {
    const scope = scopeOf(repo, "pull,push");
    const digest = Buffer.isBuffer(source) ? digestOf(source) : source.digest;
    const size = Buffer.isBuffer(source) ? source.length : source.size;
    const head = await call("HEAD", `v2/${repo}/blobs/${digest}`, scope);
    discard(head);
    if (head.statusCode === 200) return digest;
    const query = opts.mountFrom ? `?mount=${digest}&from=${encodeURIComponent(opts.mountFrom)}` : "";
    const started = await call("POST", `v2/${repo}/blobs/uploads/${query}`, scope, { headers: { "content-length": "0" } });
    if (started.statusCode === 201) {
      discard(started);
      return digest;
    }
    if (started.statusCode !== 202) throw await failure(started, `upload to ${repo}`);
    let location = await uploadLocation(started, `upload to ${repo}`);
    const open = () => (Buffer.isBuffer(source) ? undefined : source.open());
    const chunk = opts.chunkSize;
    if (chunk && Buffer.isBuffer(source)) {
      for (let offset = 0; offset < size; offset += chunk) {
        const part = source.subarray(offset, Math.min(size, offset + chunk));
        const res = await call("PATCH", location, scope, {
          headers: { "content-type": "application/octet-stream", "content-range": `${offset}-${offset + part.length - 1}`, "content-length": String(part.length) },
          body: part,
        });
        if (res.statusCode !== 202) throw await failure(res, `chunk of ${digest}`);
        location = await uploadLocation(res, `chunk of ${digest}`);
      }
      location.searchParams.set("digest", digest);
      const done = await call("PUT", location, scope, { headers: { "content-length": "0" } });
      if (done.statusCode !== 201) throw await failure(done, `blob ${digest}`);
      discard(done);
      return digest;
    }
    location.searchParams.set("digest", digest);
    const body = Buffer.isBuffer(source) ? source : open;
    const done = await call("PUT", location, scope, {
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
      body: body as Buffer | (() => Readable),
    });
    if (done.statusCode !== 201) throw await failure(done, `blob ${digest}`);
    discard(done);
    return digest;
  }

  return {
    url: base,
    get tokensFetched() {
      return auth.tokensFetched;
    },
    async ping() {
      const res = await call("GET", "v2/", undefined);
      if (res.statusCode !== 200) throw await failure(res, "GET /v2/");
      discard(res);
    },
    manifest,
    blob,
    async blobSize(repo, digest) {
      const res = await call("HEAD", `v2/${repo}/blobs/${digest}`, scopeOf(repo, "pull"));
      discard(res);
      if (res.statusCode === 404) return undefined;
      if (res.statusCode !== 200) throw errorOf(res, Buffer.alloc(0), `blob ${repo}@${digest}`);
      return Number(res.headers["content-length"] ?? 0);
    },
    pushBlob,
    async putManifest(repo, reference, content, mediaType) {
      const res = await call("PUT", `v2/${repo}/manifests/${reference}`, scopeOf(repo, "pull,push"), {
        headers: { "content-type": mediaType, "content-length": String(content.length) },
        body: content,
      });
      if (res.statusCode !== 201) throw await failure(res, `manifest ${repo}:${reference}`);
      discard(res);
      return tryParseDigest(String(res.headers["docker-content-digest"] ?? "")) ?? digestOf(content);
    },
    async deleteManifest(repo, reference) {
      const res = await call("DELETE", `v2/${repo}/manifests/${reference}`, scopeOf(repo, "delete"));
      if (res.statusCode !== 202) throw await failure(res, `delete ${repo}:${reference}`);
      discard(res);
    },
    async tags(repo, page = {}) {
      const query = new URLSearchParams();
      if (page.n !== undefined) query.set("n", String(page.n));
      if (page.last !== undefined) query.set("last", page.last);
      const res = await call("GET", `v2/${repo}/tags/list${query.size > 0 ? `?${query}` : ""}`, scopeOf(repo, "pull"));
      if (res.statusCode === 404) {
        discard(res);
        return undefined;
      }
      if (res.statusCode !== 200) throw await failure(res, `tags of ${repo}`);
      const list = JSON.parse((await readAll(res, 16 << 20)).toString("utf8")) as { name: string; tags: string[] | null };
      const link = String(res.headers.link ?? "");
      const next = /[?&]last=([^&>]+)/.exec(link)?.[1];
      return { name: list.name, tags: list.tags ?? [], ...(next !== undefined ? { next: decodeURIComponent(next) } : {}) };
    },
    async referrers(repo, digest, artifactType) {
      const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : "";
      const res = await call("GET", `v2/${repo}/referrers/${digest}${query}`, scopeOf(repo, "pull"), { headers: { accept: "application/vnd.oci.image.index.v1+json" } });
      if (res.statusCode === 404) {
        discard(res);
        return undefined;
      }
      if (res.statusCode !== 200) throw await failure(res, `referrers of ${repo}@${digest}`);
      const filters = res.headers["oci-filters-applied"];
      return { content: await readAll(res, MAX_MANIFEST), ...(typeof filters === "string" ? { filtersApplied: filters } : {}) };
    },
    close() {
      connections.destroy();
    },
  };
}
