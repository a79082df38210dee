import { read as readFile } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";
import type { DirectReadable } from "../blob-store.js";

const CHUNK = 1024 * 1024;
/** Spare full-size buffers kept between transfers (1 MiB each). */
const POOL_LIMIT = 4;
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

/** Buffers of all transfers in progress together stay within this; each transfer has two. */
const TRANSFER_BUDGET = 32 * 1024 * 1024;
/** The smallest per-transfer buffer: below it the cost per chunk (a thread-pool read, a socket write) dominates. */
const MIN_CHUNK = 256 * 1024;
let transfers = 0;

/** The buffer size for a new transfer: 1 MiB while few run, smaller once many share the budget. */
function chunkSize(): number {
  const share = TRANSFER_BUDGET / (2 * (transfers + 1));
  return share >= CHUNK ? CHUNK : Math.max(MIN_CHUNK, 2 ** Math.floor(Math.log2(share)));
}

/**
 * Copies bytes [start, end] (inclusive; to end of file when end is undefined) of file `fd` to
 * `dest` with callbacks rather than promises: one read in flight while the previous chunk is
 * written, each buffer refilled only once the socket has taken it. Per chunk this is one
 * thread-pool read and one socket write, with no promise, listener or closure per chunk.
 */
function copyRange(fd: number, start: number, end: number | undefined, dest: Writable): Promise<void> {
  const limit = end === undefined ? Infinity : end + 1;
  const size = chunkSize();
  transfers++;
  return new Promise<void>((resolve, reject) => {
    // The second buffer only once a second read is needed: most blobs (configs, small layers) fit one.
    const buffers: Buffer[] = [];
    let next = 0;
    let position = start;
    let reading = false;
    let writing = false;
    let eof = false;
    let ready: Buffer | undefined;
    let failure: Error | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      transfers--;
      dest.off("close", onClose);
      // A failed write may leave its buffer queued in the destination: reuse only after success.
      if (failure) return reject(failure);
      buffers.forEach(giveBack);
      resolve();
    };
    // Never while a read is in flight: the caller closes the file once this settles.
    const fail = (err: Error) => {
      failure ??= err;
      if (!reading) finish();
    };
    const onClose = () => fail(prematureClose());
    const read = () => {
      if (position >= limit) {
        eof = true;
        if (!writing) finish();
        return;
      }
      const length = Math.min(size, limit - position);
      const buffer = (buffers[next & 1] ??= size === CHUNK ? takeBuffer(length) : Buffer.allocUnsafeSlow(length));
      reading = true;
      readFile(fd, buffer, 0, Math.min(buffer.length, limit - position), position, (err, bytesRead) => {
        reading = false;
        if (failure) return finish();
        if (err) return fail(err);
        if (bytesRead === 0) {
          if (end !== undefined) return fail(new Error(`file ended at ${position}, before byte ${end}`));
          eof = true;
          if (!writing) finish();
          return;
        }
        position += bytesRead;
        next++;
        const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
        if (writing) ready = chunk;
        else write(chunk);
      });
    };
    const write = (chunk: Buffer) => {
      writing = true;
      // The other buffer is free: the write before this one has completed.
      read();
      dest.write(chunk, onWritten);
    };
    const onWritten = (err?: Error | null) => {
      writing = false;
      if (failure) return;
      if (err) return fail(err);
      if (ready) {
        const chunk = ready;
        ready = undefined;
        write(chunk);
      } else if (eof && !reading) finish();
    };
    if (dest.destroyed) return fail(prematureClose());
    dest.once("close", onClose);
    read();
  });
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
        await copyRange(handle.fd, start ?? 0, end, dest);
      } finally {
        stream.destroy();
      }
    },
  });
}
