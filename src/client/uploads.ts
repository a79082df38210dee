import type { IncomingMessage } from "node:http";
import { Transform, type Readable } from "node:stream";
import { createDigester, digestOf, formatDigest, type Digest } from "../oci/digest.js";
import { discard, failure, RegistryClientError } from "./transport.js";

/**
 * Content to push as a blob: bytes in memory, or a stream. `open` makes the stream and is called
 * again when a request has to be retried (after a 401 taught the client how to authenticate).
 * With `digest` the registry is asked first whether it holds the blob (and may mount it); without,
 * the bytes are hashed on their way and the digest is only sent when the upload closes. Without
 * `size` (or with `chunkSize`) the bytes go in PATCHes, otherwise in the closing PUT.
 */
export type BlobSource = Buffer | { open: () => Readable; size?: number; digest?: Digest };

/** How {@link RegistryClient.pushBlob} uploads. */
export interface PushBlobOptions {
  /** Send the bytes in PATCHes of this many bytes with Content-Range, then close the upload with an empty PUT. */
  chunkSize?: number;
  /** Try a cross-repository mount from this repository first (needs the digest). */
  mountFrom?: string;
  /**
   * false uploads without first asking whether the registry holds the blob (HEAD): for measuring
   * uploads, where a skipped upload would be a wrong figure. Default true.
   */
  checkExists?: boolean;
}

/** One authenticated request of the client (registry-client.ts), retried once after a 401 that taught it how to authenticate. */
export type Call = (
  method: string,
  target: string | URL,
  scope: string | undefined,
  extra?: { headers?: Record<string, string>; body?: Buffer | (() => Readable) },
) => Promise<IncomingMessage>;

export interface Uploads {
  pushBlob(repo: string, source: BlobSource, options?: PushBlobOptions): Promise<Digest>;
  mountBlob(repo: string, digest: Digest, from: string): Promise<boolean>;
}

const scopeOf = (repo: string, mountFrom?: string) =>
  `repository:${repo}:pull,push${mountFrom && mountFrom !== repo ? ` repository:${mountFrom}:pull` : ""}`;

/** Yields `source` in pieces of `size` bytes (the last one shorter). */
async function* pieces(source: Buffer | Readable, size: number): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(source)) {
    for (let offset = 0; offset < source.length; offset += size) yield source.subarray(offset, offset + size);
    return;
  }
  let held: Buffer[] = [];
  let length = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    held.push(chunk);
    length += chunk.length;
    while (length >= size) {
      const all = Buffer.concat(held);
      yield all.subarray(0, size);
      held = [all.subarray(size)];
      length -= size;
    }
  }
  if (length > 0) yield Buffer.concat(held);
}

/** The push half of the client: blob uploads (monolithic, chunked, streamed) and cross-repository mounts. */
export function createUploads(call: Call, base: URL): Uploads {
  async function location(res: IncomingMessage, what: string): Promise<URL> {
    const value = res.headers.location;
    discard(res);
    if (!value) throw new RegistryClientError("status", `${what}: no Location in the answer`, res.statusCode);
    return new URL(value, base);
  }

  /** POST …/blobs/uploads/: a session's location, or "mounted" when the registry answered 201 to a mount. */
  async function start(repo: string, scope: string, mount?: { digest: Digest; from: string }): Promise<URL | "mounted"> {
    const query = mount ? `?mount=${mount.digest}&from=${encodeURIComponent(mount.from)}` : "";
    const res = await call("POST", `v2/${repo}/blobs/uploads/${query}`, scope, { headers: { "content-length": "0" } });
    if (res.statusCode === 201 && mount) {
      discard(res);
      return "mounted";
    }
    if (res.statusCode !== 202) throw await failure(res, `upload to ${repo}`);
    return location(res, `upload to ${repo}`);
  }

  async function cancel(session: URL, scope: string): Promise<void> {
    const res = await call("DELETE", session, scope).catch(() => undefined);
    if (res) discard(res);
  }

  /** PATCHes then the closing PUT; resolves the digest (computed on the way when the source had none). */
  async function sendInPatches(session: URL, scope: string, source: BlobSource, chunkSize: number | undefined): Promise<Digest> {
    const known = Buffer.isBuffer(source) ? digestOf(source) : source.digest;
    let hash = createDigester();
    let at = session;
    if (chunkSize) {
      let offset = 0;
      for await (const part of pieces(Buffer.isBuffer(source) ? source : source.open(), chunkSize)) {
        if (!known) hash.update(part);
        const res = await call("PATCH", at, scope, {
          headers: { "content-type": "application/octet-stream", "content-range": `${offset}-${offset + part.length - 1}`, "content-length": String(part.length) },
          body: part,
        });
        if (res.statusCode !== 202) throw await failure(res, `chunk at ${offset} of ${known ?? "a blob"}`);
        at = await location(res, `chunk at ${offset}`);
        offset += part.length;
      }
    } else {
      // One streamed PATCH of unknown length; a retry opens the source again and hashes afresh.
      const open = () => {
        hash = createDigester();
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        });
        const stream = (source as { open: () => Readable }).open();
        stream.on("error", (err) => hashing.destroy(err));
        return stream.pipe(hashing);
      };
      const res = await call("PATCH", at, scope, { headers: { "content-type": "application/octet-stream" }, body: open });
      if (res.statusCode !== 202) throw await failure(res, `streamed upload of ${known ?? "a blob"}`);
      at = await location(res, "streamed upload");
    }
    const digest = known ?? formatDigest("sha256", hash.digest("hex"));
    at.searchParams.set("digest", digest);
    const done = await call("PUT", at, scope, { headers: { "content-length": "0" } });
    if (done.statusCode !== 201) throw await failure(done, `blob ${digest}`);
    discard(done);
    return digest;
  }

  async function pushBlob(repo: string, source: BlobSource, options: PushBlobOptions = {}): Promise<Digest> {
    const digest = Buffer.isBuffer(source) ? digestOf(source) : source.digest;
    const size = Buffer.isBuffer(source) ? source.length : source.size;
    const mountFrom = digest ? options.mountFrom : undefined;
    const scope = scopeOf(repo, mountFrom);
    if (digest && options.checkExists !== false) {
      const head = await call("HEAD", `v2/${repo}/blobs/${digest}`, scope);
      discard(head);
      if (head.statusCode === 200) return digest;
    }
    const session = await start(repo, scope, mountFrom && digest ? { digest, from: mountFrom } : undefined);
    if (session === "mounted") return digest!;
    try {
      if (options.chunkSize || !digest || size === undefined) return await sendInPatches(session, scope, source, options.chunkSize);
      session.searchParams.set("digest", digest);
      const done = await call("PUT", session, scope, {
        headers: { "content-type": "application/octet-stream", "content-length": String(size) },
        body: Buffer.isBuffer(source) ? source : source.open,
      });
      if (done.statusCode !== 201) throw await failure(done, `blob ${digest}`);
      discard(done);
      return digest;
    } catch (err) {
      await cancel(session, scope);
      throw err;
    }
  }

  return {
    pushBlob,
    async mountBlob(repo, digest, from) {
      const scope = scopeOf(repo, from);
      const session = await start(repo, scope, { digest, from });
      if (session === "mounted") return true;
      await cancel(session, scope);
      return false;
    },
  };
}
