import type { Readable, Writable } from "node:stream";
import type { Digest } from "../oci/digest.js";
import type { ByteRange } from "../oci/range.js";

/**
 * Content-addressed bytes, shared by every repository, plus the staging area where uploads are
 * written before they are verified.
 *
 * A BlobStore knows nothing of repositories or of whether a digest is correct: the registry
 * hashes the bytes as they stream in and calls `commitUpload` only once the digest matches.
 * Drivers must guarantee that a committed blob is visible either whole or not at all, and that
 * staged data never becomes visible under a content address except through `commitUpload`.
 */
export interface BlobStore {
  /** The size of a committed blob, or undefined when the store does not hold it. */
  stat(digest: Digest): Promise<{ size: number } | undefined>;

  /**
   * Opens a committed blob for reading, whole or the inclusive `range`. Rejects with
   * RegistryError BLOB_UNKNOWN when the blob is absent. The stream must be consumed or destroyed.
   * A driver may return a DirectReadable, which the HTTP layer then copies with `writeTo`.
   */
  read(digest: Digest, range?: ByteRange): Promise<Readable>;

  /** Removes a committed blob's bytes. Idempotent. Only garbage collection calls this. */
  delete(digest: Digest): Promise<void>;
  /** Removes many committed blobs' bytes (in as few requests as the store allows). Idempotent. */
  deleteMany(digests: readonly Digest[]): Promise<void>;

  /**
   * What is staged for upload `id`: size 0 when nothing was written yet (or the id is unknown).
   * Rejects with BLOB_UPLOAD_INVALID when concurrent writers left the staged bytes inconsistent.
   */
  uploadState(id: string): Promise<UploadState>;

  /**
   * Appends `body` to upload `id`, which must currently hold exactly `offset` bytes (otherwise
   * rejects with RANGE_INVALID and writes nothing). Resolves with the new state. When `body` fails
   * midway the promise rejects; bytes already written may stay staged (`uploadState` tells where
   * a client can resume) or be dropped, depending on the driver.
   */
  appendUpload(id: string, offset: number, body: Readable): Promise<UploadState>;

  /**
   * Optional, for stores on the local filesystem: makes the file at `path` (written by this
   * process, on a local disk) the staged bytes of upload `id`, which holds nothing yet, by moving
   * it rather than copying its bytes. The file is gone from `path` once this resolves. Open
   * descriptors of it stay valid: the bytes never change after they are handed over.
   */
  adoptUpload?(id: string, path: string): Promise<UploadState>;

  /**
   * Optional, for stores where staging costs requests (S3): stores `bytes`, which the registry has
   * already checked against `digest`, as the committed blob `digest`, visible whole or not at all.
   * Used instead of stage-then-commit for small blobs pushed whole in one request.
   */
  putBlob?(digest: Digest, bytes: Buffer): Promise<void>;

  /** Reads upload `id`'s staged bytes from the start, to re-hash them (after a restart, on another node). */
  readUpload(id: string): Promise<Readable>;

  /**
   * Makes upload `id`'s staged bytes the blob `digest`, atomically, and removes the staging
   * data. When the blob already exists, the staged copy is discarded. Once this resolves the
   * blob is durable (unless the driver was configured without fsync).
   */
  commitUpload(id: string, digest: Digest): Promise<void>;

  /** Removes upload `id`'s staged data. Idempotent. */
  deleteUpload(id: string): Promise<void>;

  /** Ids of every upload with staged data, for purging staging data whose session is gone. */
  listUploads(): AsyncIterable<string>;

  /** Checks that the store is reachable and writable (for `/readyz`). */
  ping(): Promise<void>;

  /**
   * Optional: a URL from which a client may fetch the blob directly (a presigned object-store
   * URL), or undefined to serve the bytes through Berth.
   */
  redirectUrl?(digest: Digest): Promise<string | undefined>;

  close(): Promise<void>;
}

/**
 * The staged bytes of an upload. `version` changes whenever they change, on any node: the
 * registry trusts a running hash only while the version it was computed for is still current.
 */
export interface UploadState {
  size: number;
  version: string;
}

/**
 * A blob read stream that can also copy itself to a destination without the stream machinery
 * (fewer allocations and copies). Optional: callers check with isDirectReadable.
 */
export interface DirectReadable extends Readable {
  /**
   * Writes the stream's bytes to `dest` (not ending it) and closes the stream. Only on a stream
   * nothing was read from. Rejects with code ERR_STREAM_PREMATURE_CLOSE when `dest` closes first.
   */
  writeTo(dest: Writable): Promise<void>;
}

export function isDirectReadable(stream: Readable): stream is DirectReadable {
  return typeof (stream as Partial<DirectReadable>).writeTo === "function";
}
