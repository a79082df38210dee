import { createHash, randomUUID, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { digestAlgorithm, formatDigest, type Digest, type DigestAlgorithm } from "../oci/digest.js";
import { RegistryError } from "../oci/errors.js";
import { isValidName } from "../oci/reference.js";
import { uploadRangeHeader, type ByteRange } from "../oci/range.js";
import type { BlobStore, UploadState } from "../storage/blob-store.js";
import type { MetadataStore, UploadSession } from "../storage/metadata-store.js";
import { setTimeout as delay } from "node:timers/promises";
import { finishAbandonedDeletes } from "./gc-sweep.js";
import { createHashCache, hashingStream } from "./hash-cache.js";
import type { RegistryOptions } from "./options.js";
import { quotaLimited } from "./quota-stream.js";
import type { Quotas } from "./quotas.js";
import type { DomainEvent, EventLog, Origin } from "./events.js";

export interface UploadStatus {
  id: string;
  /** Bytes received so far. */
  size: number;
  /** Set once the repository or its namespace is past a quota's warning threshold (for the `Berth-Quota-Warning` header). */
  quotaWarning?: string;
}

export interface CommittedBlob {
  digest: Digest;
  size: number;
  /** As in UploadStatus. */
  quotaWarning?: string;
}

export type MountResult = { mounted: true; blob: CommittedBlob } | { mounted: false; upload: UploadStatus };

/**
 * Blob uploads: sessions, chunks, the final digest check, cross-repository mounts, and the quotas
 * on all of them. A body's `length`, when the request declares one (Content-Length), is checked
 * against the quotas (with what the upload holds already) before a byte of it is read; a body
 * without one is counted as it arrives and stopped at the limit (quota-stream.ts).
 */
export interface Uploads {
  // `origin`, on the calls that may record events (a blob pushed or mounted, a quota refusal): who asks.
  start(repo: string, algorithm: DigestAlgorithm, origin?: Origin): Promise<UploadStatus>;
  /** Links `digest` from repository `from` (or from anywhere when allowed); otherwise starts an upload. */
  mount(repo: string, digest: Digest, from: string | undefined, algorithm: DigestAlgorithm, origin?: Origin): Promise<MountResult>;
  /** A whole blob in one request: stream, verify, commit. */
  putWhole(repo: string, digest: Digest, body: Readable, length?: number, origin?: Origin): Promise<CommittedBlob>;
  /**
   * A whole blob already in a local file, `hash` taken over exactly its bytes as they were
   * written: verified and committed like putWhole, but the store takes the file over instead of
   * the bytes being copied. Present only when the blob store can (a local filesystem); the file
   * is moved or left to the caller to remove.
   */
  putFile?(repo: string, digest: Digest, file: { path: string; size: number; hash: Hash }, origin?: Origin): Promise<CommittedBlob>;
  status(repo: string, id: string): Promise<UploadStatus>;
  /** Appends a chunk; `range`, when given, must start where the upload ends (else RANGE_INVALID 416). */
  append(repo: string, id: string, body: Readable, range?: ByteRange, length?: number, origin?: Origin): Promise<UploadStatus>;
  /** Appends an optional last chunk, verifies the whole upload against `digest`, and commits the blob. */
  finish(repo: string, id: string, digest: Digest, body?: Readable, range?: ByteRange, length?: number, origin?: Origin): Promise<CommittedBlob>;
  cancel(repo: string, id: string): Promise<void>;
  /** Cancels uploads idle for longer than the expiry and removes staged data no session owns. */
  purgeStale(now?: number): Promise<number>;
  /**
   * Links a blob the registry holds (in any repository) to `repo`, recording `mounted` (a client's
   * mount) with the link when given; resolves undefined when it holds none.
   */
  linkExisting(repo: string, digest: Digest, mounted?: DomainEvent): Promise<CommittedBlob | undefined>;
}

/** How long committing an upload waits for a sweep deleting the same digest before giving up. */
const CLAIM_WAIT_MS = 60_000;
/**
 * A blob up to this size pushed whole in one request, on a store with `putBlob` (S3), is read
 * into memory, checked and written once under its digest: no staged object to list, copy and
 * delete (seven object-store requests become one or two).
 */
export const DIRECT_PUT_MAX = 1024 * 1024;

/** The body of a request that declared `length` bytes, whole; SIZE_INVALID when it carries another amount. */
async function readWhole(body: Readable, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > length) break;
    chunks.push(chunk);
  }
  if (n !== length) {
    body.resume();
    throw new RegistryError("SIZE_INVALID", `the body holds ${n > length ? "more" : "fewer"} bytes than its Content-Length (${length})`);
  }
  return Buffer.concat(chunks, n);
}

export function createUploads(blobs: BlobStore, metadata: MetadataStore, options: RegistryOptions, events: EventLog, quotas?: Quotas): Uploads {
  const hashes = createHashCache();
  const busy = new Set<string>();

  const rangeError = (size: number, message: string) =>
    new RegistryError("RANGE_INVALID", message, { size }, { headers: { Range: uploadRangeHeader(size) } });

  async function session(repo: string, id: string): Promise<UploadSession> {
    const found = await metadata.getUpload(id);
    if (!found || found.repository !== repo) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", undefined, { id });
    if (found.updatedAt < Date.now() - options.uploadExpiryMs) {
      await discard(id);
      throw new RegistryError("BLOB_UPLOAD_UNKNOWN", "upload expired", { id });
    }
    return found;
  }

  async function exclusive<T>(id: string, body: Readable | undefined, work: () => Promise<T>): Promise<T> {
    if (busy.has(id)) {
      body?.resume();
      throw new RegistryError("BLOB_UPLOAD_INVALID", "another request is writing to this upload", { id });
    }
    busy.add(id);
    try {
      return await work();
    } finally {
      busy.delete(id);
    }
  }

  /** The result with the repository's quota warning as of the latest check, if past a threshold. */
  function warned<T extends UploadStatus | CommittedBlob>(repo: string, result: T): T {
    const quotaWarning = quotas?.warning(repo);
    return quotaWarning === undefined ? result : { ...result, quotaWarning };
  }

  /** Refuses a body of declared `length` that would take `repo` over a quota, before it is read. */
  async function checkDeclared(repo: string, origin: Origin | undefined, length: number | undefined, id?: string, digest?: Digest): Promise<void> {
    if (!quotas?.enabled || !length) return;
    const size = (id === undefined ? 0 : (await blobs.uploadState(id)).size) + length;
    await quotas.check(repo, digest === undefined ? { bytes: size } : { blobs: [{ digest, size }] }, origin);
  }

  async function discard(id: string): Promise<void> {
    hashes.forget(id);
    await blobs.deleteUpload(id);
    await metadata.deleteUpload(id);
  }

  /**
   * Claims `digest` for the upload, waiting while a sweep deletes the same digest. When no sweep
   * holds the GC lock, the deletion it left behind (it died) is finished here, under that lock.
   */
  async function claimForCommit(id: string, digest: Digest, size: number): Promise<void> {
    const deadline = Date.now() + CLAIM_WAIT_MS;
    for (let pause = 10; ; pause = Math.min(pause * 2, 500)) {
      if (await metadata.claimBlob(id, digest, size)) return;
      if (await finishAbandonedDeletes(blobs, metadata)) continue;
      if (Date.now() > deadline) {
        throw new RegistryError("UNAVAILABLE", "garbage collection is deleting this blob; retry the upload", { digest });
      }
      await delay(pause);
    }
  }

  async function linkExisting(repo: string, digest: Digest, mounted?: DomainEvent): Promise<CommittedBlob | undefined> {
    // A live row whose bytes never landed (its upload died between claim and commit) is not a blob
    // to link. Bytes seen here stay: a sweep deletes them only after marking the row not live, and
    // linkBlob refuses a row that is not live. So the event commits only with a real link.
    if ((await blobs.stat(digest)) === undefined) return undefined;
    const size = await metadata.linkBlob(repo, digest, mounted ? events.forStore([mounted]) : undefined);
    if (size === undefined) return undefined;
    if (mounted) await events.published([mounted]);
    return { digest, size };
  }

  async function create(repo: string, algorithm: DigestAlgorithm): Promise<UploadSession> {
    const now = Date.now();
    const created: UploadSession = { id: randomUUID(), repository: repo, algorithm, createdAt: now, updatedAt: now };
    await metadata.createUpload(created);
    return created;
  }

  /**
   * Appends under the caller's lock; keeps the running hash in step with what reached storage.
   * `finishing` (the blob's digest, for a final chunk) skips recording activity on a session that
   * ends right after, and lets a blob the quota's scope already holds through the byte count.
   */
  async function appendLocked(s: UploadSession, origin: Origin | undefined, body: Readable, range?: ByteRange, finishing?: Digest): Promise<UploadState> {
    const state = await blobs.uploadState(s.id);
    if (range && range.start !== state.size) {
      body.resume();
      throw rangeError(state.size, `chunk starts at ${range.start} but the upload holds ${state.size} bytes`);
    }
    const hash = await hashes.get(s.id, s.algorithm, state, () => blobs.readUpload(s.id));
    const limited = quotas?.enabled ? await quotaLimited(quotas, s.repository, body, state.size, finishing, origin) : undefined;
    const hashing = hashingStream(hash);
    const feeding = pipeline(limited?.stream ?? body, hashing);
    const appending = blobs.appendUpload(s.id, state.size, hashing);
    try {
      const [next] = await Promise.all([appending, feeding]);
      hashes.advance(s.id, next);
      if (!finishing) await metadata.touchUpload(s.id, Date.now());
      return next;
    } catch (err) {
      hashes.forget(s.id);
      hashing.resume();
      feeding.catch(() => {});
      const refusal = limited?.refusal();
      if (refusal === undefined) throw err;
      // Stopped mid-body for a quota: what was staged is a fragment no client can resume from.
      // The driver's write settles first, so nothing lands after the discard.
      await appending.catch(() => {});
      await discard(s.id);
      throw refusal;
    }
  }

  async function finishLocked(repo: string, s: UploadSession, origin: Origin | undefined, digest: Digest, body?: Readable, range?: ByteRange, length?: number, fresh = false) {
    if (body && blobs.putBlob && length !== undefined && length <= DIRECT_PUT_MAX && (range === undefined || range.start === 0)) {
      // Only an upload with nothing staged yet can take its bytes from this body alone.
      if (fresh || (await blobs.uploadState(s.id)).size === 0) return finishDirect(repo, s, origin, digest, await readWhole(body, length));
    }
    const state = body ? await appendLocked(s, origin, body, range, digest) : await blobs.uploadState(s.id);
    const algorithm = digestAlgorithm(digest);
    const hash = await hashes.get(s.id, algorithm, state, () => blobs.readUpload(s.id));
    await verified(s, digest, formatDigest(algorithm, hash.copy().digest("hex")));
    return commitVerified(repo, s, origin, digest, state.size, () => blobs.commitUpload(s.id, digest));
  }

  /** The small-blob path: the bytes checked in memory and written once under their digest. */
  async function finishDirect(repo: string, s: UploadSession, origin: Origin | undefined, digest: Digest, bytes: Buffer) {
    const algorithm = digestAlgorithm(digest);
    await verified(s, digest, formatDigest(algorithm, createHash(algorithm).update(bytes).digest("hex")));
    return commitVerified(repo, s, origin, digest, bytes.length, () => blobs.putBlob!(digest, bytes));
  }

  async function verified(s: UploadSession, digest: Digest, actual: string): Promise<void> {
    if (actual === digest) return;
    await discard(s.id);
    throw new RegistryError("DIGEST_INVALID", "provided digest did not match uploaded content", { expected: digest, actual });
  }

  /** Checks the quota, claims the digest, puts the bytes in place with `store`, links them and ends the session. */
  async function commitVerified(repo: string, s: UploadSession, origin: Origin | undefined, digest: Digest, size: number, store: () => Promise<void>) {
    // The bytes are here now, so the quota check is exact (a chunked upload had no length before).
    try {
      await quotas?.check(repo, { blobs: [{ digest, size }] }, origin);
    } catch (err) {
      await discard(s.id);
      throw err;
    }
    // The claim keeps any sweep off this digest from before the bytes land until the link holds it.
    await claimForCommit(s.id, digest, size);
    await store();
    const pushed = events.event("blob.pushed", { repository: repo, target: { digest, size, mediaType: "application/octet-stream" } }, origin);
    if ((await metadata.linkBlob(repo, digest, events.forStore([pushed]))) === undefined) {
      throw new Error(`blob ${digest} lost its row while claimed by upload ${s.id}`);
    }
    hashes.forget(s.id);
    await metadata.deleteUpload(s.id);
    await events.published([pushed]);
    return { digest, size };
  }

  /**
   * A whole blob in one go: the quota checked against its length first, a session of its own,
   * verified and committed, or discarded on any failure. `stage` puts the bytes in place when they
   * do not come as `body`.
   */
  async function whole(repo: string, digest: Digest, length: number | undefined, origin: Origin | undefined, body?: Readable, stage?: (s: UploadSession) => Promise<void>): Promise<CommittedBlob> {
    await checkDeclared(repo, origin, length, undefined, digest);
    const s = await create(repo, digestAlgorithm(digest));
    return exclusive(s.id, body, async () => {
      try {
        await stage?.(s);
        return warned(repo, await finishLocked(repo, s, origin, digest, body, undefined, length, true));
      } catch (err) {
        await discard(s.id);
        throw err;
      }
    });
  }

  async function putFile(repo: string, digest: Digest, file: { path: string; size: number; hash: Hash }, origin?: Origin): Promise<CommittedBlob> {
    return whole(repo, digest, file.size, origin, undefined, async (s) => {
      hashes.seed(s.id, digestAlgorithm(digest), file.hash, await blobs.adoptUpload!(s.id, file.path));
    });
  }


  return {
    async start(repo, algorithm, origin) {
      await quotas?.check(repo, { session: true }, origin);
      const s = await create(repo, algorithm);
      return warned(repo, { id: s.id, size: 0 });
    },

    async mount(repo, digest, from, algorithm, origin) {
      let size: number | undefined;
      if (from !== undefined && isValidName(from)) size = (await metadata.getBlobLink(from, digest))?.size;
      const source = size === undefined ? undefined : from;
      if (size === undefined && options.anonymousMount) size = (await metadata.getBlob(digest))?.size;
      if (size !== undefined) await quotas?.check(repo, { blobs: [{ digest, size }] }, origin);
      const mounted = events.event("blob.mounted", {
        repository: repo,
        target: { digest, size, mediaType: "application/octet-stream" },
        ...(source !== undefined ? { detail: { from: source } } : {}),
      }, origin);
      const blob = size === undefined ? undefined : await linkExisting(repo, digest, mounted);
      if (blob) return { mounted: true, blob: warned(repo, blob) };
      await quotas?.check(repo, { session: true }, origin);
      const s = await create(repo, algorithm);
      return { mounted: false, upload: warned(repo, { id: s.id, size: 0 }) };
    },

    putWhole(repo, digest, body, length, origin) {
      return whole(repo, digest, length, origin, body);
    },

    ...(blobs.adoptUpload ? { putFile } : {}),

    async status(repo, id) {
      await session(repo, id);
      return warned(repo, { id, size: (await blobs.uploadState(id)).size });
    },

    async append(repo, id, body, range, length, origin) {
      const s = await session(repo, id).catch((err) => {
        body.resume();
        throw err;
      });
      await checkDeclared(repo, origin, length, id);
      return exclusive(id, body, async () => warned(repo, { id, size: (await appendLocked(s, origin, body, range)).size }));
    },

    async finish(repo, id, digest, body, range, length, origin) {
      const s = await session(repo, id).catch((err) => {
        body?.resume();
        throw err;
      });
      if (body) await checkDeclared(repo, origin, length, id, digest);
      return exclusive(id, body, async () => warned(repo, await finishLocked(repo, s, origin, digest, body, range, length)));
    },

    async cancel(repo, id) {
      await session(repo, id);
      await exclusive(id, undefined, () => discard(id));
    },

    async purgeStale(now = Date.now()) {
      let purged = 0;
      for (;;) {
        const stale = (await metadata.listStaleUploads(now - options.uploadExpiryMs, 500)).filter((s) => !busy.has(s.id));
        for (const s of stale) await discard(s.id);
        purged += stale.length;
        if (stale.length < 500) break;
      }
      for await (const id of blobs.listUploads()) {
        if (!busy.has(id) && !(await metadata.getUpload(id))) {
          await blobs.deleteUpload(id);
          purged++;
        }
      }
      return purged;
    },

    linkExisting,
  };
}
