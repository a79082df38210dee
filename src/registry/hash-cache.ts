import type { Hash } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { createDigester, type DigestAlgorithm } from "../oci/digest.js";

/**
 * The running hash of each upload this process is serving, so that finishing an upload costs
 * nothing more. Hash state cannot be persisted, so an entry is only trusted when it covers exactly
 * the bytes staged; otherwise (after a restart, after a broken request, or when the upload moved
 * to another node) the staged bytes are hashed again from the start.
 */
export interface HashCache {
  /** A hash of exactly the first `size` staged bytes of upload `id`. */
  get(id: string, algorithm: DigestAlgorithm, size: number, rehash: () => Promise<Readable>): Promise<Hash>;
  /** Records that the cached hash of `id` now covers `size` bytes. */
  advance(id: string, size: number): void;
  forget(id: string): void;
}

interface Entry {
  algorithm: DigestAlgorithm;
  hash: Hash;
  size: number;
}

export function createHashCache(maxEntries = 10_000): HashCache {
  const entries = new Map<string, Entry>();
  return {
    async get(id, algorithm, size, rehash) {
      const entry = entries.get(id);
      if (entry && entry.algorithm === algorithm && entry.size === size) return entry.hash;
      const hash = createDigester(algorithm);
      let hashed = 0;
      for await (const chunk of await rehash()) {
        hash.update(chunk as Buffer);
        hashed += (chunk as Buffer).length;
      }
      entries.delete(id);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(id, { algorithm, hash, size: hashed });
      return hash;
    },
    advance(id, size) {
      const entry = entries.get(id);
      if (entry) entry.size = size;
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
