import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { digestAlgorithm, digestOf, tryParseDigest, type Digest } from "../oci/digest.js";
import { MANIFEST_MEDIA_TYPES, MediaType } from "../oci/media-types.js";
import { createClientAuth, type Credentials } from "./auth.js";
import { createConnections, discard, errorOf, failure, readAll, RegistryClientError, send } from "./transport.js";
import { createUploads, type BlobSource, type PushBlobOptions } from "./uploads.js";

export { RegistryClientError } from "./transport.js";
export type { Credentials } from "./auth.js";
export { TOKEN_REFUSED } from "./auth.js";
export type { BlobSource, PushBlobOptions } from "./uploads.js";

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
  /**
   * A whole blob in memory, checked against its digest (DIGEST_INVALID when the bytes differ);
   * refuses blobs over `maxBytes` (default 64 MiB). For configs and test content; stream big ones with blob().
   */
  blobContent(repo: string, digest: Digest, maxBytes?: number): Promise<Buffer | undefined>;
  /** HEAD of a blob: its size, or undefined when the registry does not have it in `repo`. */
  blobSize(repo: string, digest: Digest): Promise<number | undefined>;
  /**
   * Pushes a blob unless the registry has it: in one PUT, in `chunkSize` PATCHes, or streamed
   * (see BlobSource); `mountFrom` tries a cross-repository mount first. Resolves its digest. A
   * failed upload's session is cancelled.
   */
  pushBlob(repo: string, source: BlobSource, options?: PushBlobOptions): Promise<Digest>;
  /** Mounts a blob `from` another repository; false when the registry would not (it offered an upload instead, which is cancelled). */
  mountBlob(repo: string, digest: Digest, from: string): Promise<boolean>;
  deleteBlob(repo: string, digest: Digest): Promise<void>;
  /** PUTs a manifest under a tag or its digest; resolves the digest the registry answered. */
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

const scopeOf = (repo: string, actions: string) => `repository:${repo}:${actions}`;

/** `res` when its status is one of `ok`; undefined for a 404 (its body dropped); otherwise the error its body carries. */
async function answered(res: IncomingMessage, ok: readonly number[], what: string): Promise<IncomingMessage | undefined> {
  if (ok.includes(res.statusCode ?? 0)) return res;
  if (res.statusCode === 404) {
    discard(res);
    return undefined;
  }
  throw await failure(res, what);
}

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

  const uploads = createUploads(call, base);

  async function manifest(repo: string, reference: string, opts: { method?: "GET" | "HEAD"; accept?: readonly string[] } = {}): Promise<ManifestAnswer | undefined> {
    const method = opts.method ?? "GET";
    const accept = (opts.accept ?? [...MANIFEST_MEDIA_TYPES, MediaType.DockerSchema1Signed]).join(", ");
    const res = await answered(await call(method, `v2/${repo}/manifests/${reference}`, scopeOf(repo, "pull"), { headers: { accept } }), [200], `manifest ${repo}:${reference}`);
    if (!res) return undefined;
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
    if (!(await answered(res, [200, 206], `blob ${repo}@${digest}`))) return undefined;
    const length = res.headers["content-length"];
    const start = res.statusCode === 206 ? Number(/bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""))?.[1] ?? 0) : 0;
    return { ...(length !== undefined ? { size: Number(length) } : {}), start, stream: res };
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
    async blobContent(repo, digest, maxBytes = 64 << 20) {
      const answer = await blob(repo, digest);
      if (!answer) return undefined;
      const content = await readAll(answer.stream, maxBytes);
      const got = digestOf(content, digestAlgorithm(digest));
      if (got !== digest) throw new RegistryClientError("status", `blob ${repo}@${digest}: content digest ${got} is not ${digest}`, 200, "DIGEST_INVALID");
      return content;
    },
    ...uploads,
    async deleteBlob(repo, digest) {
      const res = await call("DELETE", `v2/${repo}/blobs/${digest}`, scopeOf(repo, "delete"));
      if (res.statusCode !== 202) throw await failure(res, `delete ${repo}@${digest}`);
      discard(res);
    },
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
      // Untagging takes delete or pull+push (src/http/app.ts needOf): ask for all three, get what the caller has.
      const res = await call("DELETE", `v2/${repo}/manifests/${reference}`, scopeOf(repo, reference.includes(":") ? "delete" : "pull,push,delete"));
      if (res.statusCode !== 202) throw await failure(res, `delete ${repo}:${reference}`);
      discard(res);
    },
    async tags(repo, page = {}) {
      const query = new URLSearchParams();
      if (page.n !== undefined) query.set("n", String(page.n));
      if (page.last !== undefined) query.set("last", page.last);
      const res = await answered(await call("GET", `v2/${repo}/tags/list${query.size > 0 ? `?${query}` : ""}`, scopeOf(repo, "pull")), [200], `tags of ${repo}`);
      if (!res) return undefined;
      const list = JSON.parse((await readAll(res, 16 << 20)).toString("utf8")) as { name: string; tags: string[] | null };
      const link = String(res.headers.link ?? "");
      const next = /[?&]last=([^&>]+)/.exec(link)?.[1];
      return { name: list.name, tags: list.tags ?? [], ...(next !== undefined ? { next: decodeURIComponent(next) } : {}) };
    },
    async referrers(repo, digest, artifactType) {
      const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : "";
      const res = await answered(
        await call("GET", `v2/${repo}/referrers/${digest}${query}`, scopeOf(repo, "pull"), { headers: { accept: MediaType.OciIndex } }),
        [200],
        `referrers of ${repo}@${digest}`,
      );
      if (!res) return undefined;
      const filters = res.headers["oci-filters-applied"];
      return { content: await readAll(res, MAX_MANIFEST), ...(typeof filters === "string" ? { filtersApplied: filters } : {}) };
    },
    close() {
      connections.destroy();
    },
  };
}
