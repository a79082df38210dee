import type { FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";
import type { DirectReadable } from "../blob-store.js";

const CHUNK = 1024 * 1024;
/** Spare full-size buffers kept between transfers (1 MiB each). */
const POOL_LIMIT = 16;
const pool: Buffer[] = [];

/** A read buffer of `size` bytes (at most 1 MiB), reused from the pool when it is a full one. */
export function takeBuffer(size: number): Buffer {
  if (size < CHUNK) return Buffer.allocUnsafeSlow(size);
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

/** Returns a buffer from takeBuffer for reuse. */
export function giveBack(buffer: Buffer): void {
  if (buffer.length === CHUNK && pool.length < POOL_LIMIT) pool.push(buffer);
}

/** The error of a copy whose destination closed first (what `pipeline` calls it too). */
export function prematureClose(): Error {
  return Object.assign(new Error("destination closed before the body was written"), {
    code: "ERR_STREAM_PREMATURE_CLOSE",
  });
}

/** Resolves once `dest` has handed `chunk` on (so its buffer may be reused), rejects if it closes first. */
export function writeChunk(dest: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (dest.destroyed) return reject(prematureClose());
    const onClose = () => reject(prematureClose());
    dest.once("close", onClose);
    dest.write(chunk, (err) => {
      dest.off("close", onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Copies bytes [start, end] (inclusive; to end of file when end is undefined) of `handle` to `dest`. */
async function copyRange(handle: FileHandle, start: number, end: number | undefined, dest: Writable): Promise<void> {
  const limit = end === undefined ? Infinity : end + 1;
  // The second buffer only once a second read is needed: most blobs (configs, small layers) fit one.
  const buffers: Buffer[] = [];
  let position = start;
  let pending: Promise<void> | undefined;
  try {
    for (let i = 0; position < limit; i++) {
      const buffer = (buffers[i & 1] ??= takeBuffer(Math.min(CHUNK, limit - position)));
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, limit - position), position);
      if (bytesRead === 0) {
        if (end === undefined) break;
        throw new Error(`file ended at ${position}, before byte ${end}`);
      }
      position += bytesRead;
      await pending;
      pending = writeChunk(dest, bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
      // Observed at the next iteration's await; until then a rejection must not count as unhandled.
      pending.catch(() => {});
    }
    await pending;
  } finally {
    // A rejected write may leave the buffer queued in the destination: reuse only after success.
    if (pending) await pending.then(() => buffers.forEach(giveBack), () => {});
  }
}

/**
 * A read stream over bytes [start, end] of the open `handle`, closing it when done. Its writeTo
 * uses two reused buffers, one filled by the next read while the other is written: against the
 * stream machinery that saves a fresh allocation per chunk (page faults, GC) and the memory of
 * chunks queued behind a slow socket.
 */
export function createFileReadStream(handle: FileHandle, start?: number, end?: number): DirectReadable {
  const stream = handle.createReadStream({ start, end, highWaterMark: CHUNK });
  return Object.assign(stream, {
    async writeTo(dest: Writable) {
      try {
        await copyRange(handle, start ?? 0, end, dest);
      } finally {
        stream.destroy();
      }
    },
  });
}
