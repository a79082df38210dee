import type { Hash } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { createDigester, type DigestAlgorithm } from "../oci/digest.js";
import type { UploadState } from "../storage/blob-store.js";

/**
 * The running hash of each upload this process is serving, so that finishing an upload costs
 * nothing more. Hash state cannot be persisted, so an entry is only trusted while the staged
 * bytes are still at the version it was computed for; otherwise (after a restart, after a broken request, or when the upload moved
 * to another node) the staged bytes are hashed again from the start.
 */
export interface HashCache {
  /** A hash of exactly the staged bytes of upload `id` as they are in `state`. */
  get(id: string, algorithm: DigestAlgorithm, state: UploadState, rehash: () => Promise<Readable>): Promise<Hash>;
  /** Takes `hash`, computed by the caller over exactly the staged bytes of `id` as they are in `state`. */
  seed(id: string, algorithm: DigestAlgorithm, hash: Hash, state: UploadState): void;
  /** Records that the cached hash of `id` now covers the staged bytes as they are in `state`. */
  advance(id: string, state: UploadState): void;
  forget(id: string): void;
}

interface Entry {
  algorithm: DigestAlgorithm;
  hash: Hash;
  version: string;
}

export function createHashCache(maxEntries = 10_000): HashCache {
  const entries = new Map<string, Entry>();
  const seed = (id: string, algorithm: DigestAlgorithm, hash: Hash, state: UploadState) => {
    entries.delete(id);
    if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
    entries.set(id, { algorithm, hash, version: state.version });
  };
  return {
    async get(id, algorithm, state, rehash) {
      const entry = entries.get(id);
      if (entry && entry.algorithm === algorithm && entry.version === state.version) return entry.hash;
      const hash = createDigester(algorithm);
      // Nothing staged yet (a new upload): nothing to read back.
      if (state.size > 0) for await (const chunk of await rehash()) hash.update(chunk as Buffer);
      seed(id, algorithm, hash, state);
      return hash;
    },
    seed,
    advance(id, state) {
      const entry = entries.get(id);
      if (entry) entry.version = state.version;
    },
    forget(id) {
      entries.delete(id);
    },
  };
}

/** A pass-through stream that feeds every chunk to `hash` on its way. */
export function hashingStream(hash: Hash): Transform {
  return new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
}
