import { EventEmitter, once } from "node:events";
import { closeSync, fdatasync, openSync, read, writev } from "node:fs";
import type { Writable } from "node:stream";
import { promisify } from "node:util";
import { giveBack, prematureClose, takeBuffer, writeChunk as write } from "../storage/drivers/file-transfer.js";

/** Bytes gathered in memory before one spool write. */
const WRITE_BATCH = 1 << 20;
/** Bytes not yet written beyond which `append` asks the caller to wait for the disk. */
const MAX_UNWRITTEN = 8 << 20;
const readAsync = promisify(read);
const datasyncAsync = promisify(fdatasync);
const writevAsync = promisify(writev);

async function writeAllAt(fd: number, chunks: Buffer[], position: number): Promise<void> {
  for (let buffers = chunks; buffers.length > 0; ) {
    let skip = (await writevAsync(fd, buffers, position)).bytesWritten;
    position += skip;
    const rest: Buffer[] = [];
    for (const b of buffers) {
      if (skip >= b.length) skip -= b.length;
      else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    buffers = rest;
  }
}

/**
 * The bytes of one blob as they arrive, for any number of readers, each at its own pace. What
 * arrives is kept in memory until it is written to the spool file, in batches of about 1 MiB: a
 * reader keeping up is handed those very buffers (no disk round trip, no copy), a reader behind
 * reads the file. The last byte is held back until `settle()`: a reader of a spool that fails
 * gets a short body, never a complete-looking wrong one.
 */
export class Spool extends EventEmitter {
  /** Bytes in the file. */
  written = 0;
  finished = false;
  failure: Error | undefined;
  readonly fd: number;
  /** Bytes [written, written + unwrittenBytes), in order; the first ones may be being written. */
  #unwritten: Buffer[] = [];
  #unwrittenBytes = 0;
  #writing: Promise<void> | undefined;
  #writeFailed: Error | undefined;
  #closed = false;
  #unsynced = 0;
  #syncing: Promise<void> | undefined;

  /**
   * `syncEvery`: bytes written between background fdatasyncs, for a file a durable store will
   * fsync when it takes it over (then that fsync finds little left to flush); none when undefined.
   */
  constructor(
    readonly path: string,
    readonly syncEvery?: number,
  ) {
    super();
    this.setMaxListeners(0);
    this.fd = openSync(path, "w+");
  }

  get received(): number {
    return this.written + this.#unwrittenBytes;
  }

  /** How far a reader may read now: everything once settled, all but the last byte before. */
  get available(): number {
    return this.finished ? this.received : Math.max(0, this.received - 1);
  }

  /** Takes `chunk` (which must not change afterwards); resolves when the caller may send more (the disk is not too far behind). */
  append(chunk: Buffer): Promise<void> | undefined {
    if (this.#writeFailed) throw this.#writeFailed;
    this.#unwritten.push(chunk);
    this.#unwrittenBytes += chunk.length;
    this.emit("progress");
    if (this.#unwrittenBytes >= WRITE_BATCH) this.#writing ??= this.#drain(WRITE_BATCH);
    return this.#unwrittenBytes >= MAX_UNWRITTEN ? this.#writing : undefined;
  }

  /** Resolves once every byte received is in the file (and no background sync runs); rejects if a write failed. */
  async flush(): Promise<void> {
    try {
      for (;;) {
        if (this.#writeFailed) throw this.#writeFailed;
        if (this.#unwrittenBytes === 0 && !this.#writing) return;
        await (this.#writing ??= this.#drain(1));
      }
    } finally {
      await this.#syncing;
    }
  }

  async #drain(batch: number): Promise<void> {
    try {
      while (this.#unwrittenBytes >= batch) {
        const chunks = this.#unwritten.slice();
        const bytes = this.#unwrittenBytes;
        await writeAllAt(this.fd, chunks, this.written);
        // One step, so that `received` never changes here: those bytes move from memory to the file.
        this.#unwritten.splice(0, chunks.length);
        this.#unwrittenBytes -= bytes;
        this.written += bytes;
        this.#unsynced += bytes;
        if (this.syncEvery !== undefined && this.#unsynced >= this.syncEvery && !this.#syncing) {
          this.#unsynced = 0;
          // A failed sync is not the blob's failure: the store's own fsync at commit still decides.
          this.#syncing = datasyncAsync(this.fd).catch(() => {}).finally(() => (this.#syncing = undefined));
        }
      }
    } catch (err) {
      this.#writeFailed = err as Error;
    } finally {
      this.#writing = undefined;
    }
  }

  /** Resolves once a first byte arrived (or the spool finished empty); rejects when it failed before one did. */
  async started(): Promise<void> {
    while (this.received === 0 && !this.finished) {
      if (this.failure) throw this.failure;
      await once(this, "progress");
    }
  }

  /** No more bytes: the last one is released (or, with `err`, every reader fails). */
  settle(err?: Error): void {
    if (err) this.failure = err;
    else this.finished = true;
    this.emit("progress");
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.fd);
  }

  /**
   * Bytes at `position` (before `limit`, which lies beyond it): the buffer received, while it is
   * still in memory, else read from the file into `buffer` (a new one when not given).
   */
  async #bytesAt(position: number, limit: number, buffer?: Buffer): Promise<Buffer> {
    if (position >= this.written) {
      let offset = this.written;
      for (const chunk of this.#unwritten) {
        if (position < offset + chunk.length) return chunk.subarray(position - offset, Math.min(chunk.length, limit - offset));
        offset += chunk.length;
      }
    }
    const end = Math.min(limit, this.written);
    const into = buffer ?? Buffer.allocUnsafe(Math.min(1 << 20, end - position));
    const { bytesRead } = await readAsync(this.fd, into, 0, Math.min(into.length, end - position), position);
    if (bytesRead === 0) throw new Error(`the spool file ended at ${position}, before byte ${limit}`);
    return into.subarray(0, bytesRead);
  }

  /**
   * Resolves with the end of what may be read from `position` now (at most `last`), once there is
   * something; with undefined at the end of the bytes wanted. Rejects with the spool's failure,
   * or with ERR_STREAM_PREMATURE_CLOSE when `dest` closes while waiting.
   */
  async #ready(position: number, last: number | undefined, dest?: Writable): Promise<number | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      const limit = last === undefined ? this.available : Math.min(last, this.available);
      if (position < limit) return limit;
      if (this.finished && (last === undefined || position >= last)) return undefined;
      await new Promise<void>((resolve, reject) => {
        const settle = (err?: Error) => {
          this.off("progress", onProgress);
          dest?.off("close", onClose);
          if (err) reject(err);
          else resolve();
        };
        const onProgress = () => settle();
        const onClose = () => settle(prematureClose());
        if (dest?.destroyed) return reject(prematureClose());
        this.on("progress", onProgress);
        dest?.once("close", onClose);
      });
    }
  }

  /** The next bytes from `position` up to `last` (exclusive; the end when undefined), or null at the end. */
  async next(position: number, last: number | undefined): Promise<Buffer | null> {
    const limit = await this.#ready(position, last);
    return limit === undefined ? null : this.#bytesAt(position, limit);
  }

  /**
   * Copies bytes [start, last) to `dest` as they arrive: buffers still in memory as they are,
   * the rest through two reused buffers, one filled by the next read while the other is written
   * (a fresh buffer per read would make the garbage collector a large share of a cold pull).
   */
  async copyTo(dest: Writable, start: number, last: number | undefined): Promise<void> {
    const buffers: Buffer[] = [];
    let position = start;
    let pending: Promise<void> | undefined;
    try {
      for (let i = 0; ; ) {
        const limit = await this.#ready(position, last, dest);
        if (limit === undefined) break;
        const fromFile = position < this.written;
        const bytes = await this.#bytesAt(position, limit, fromFile ? (buffers[i & 1] ??= takeBuffer(1 << 20)) : undefined);
        if (fromFile) i++;
        position += bytes.length;
        await pending;
        pending = write(dest, bytes);
        // Observed at the next iteration's await; until then a rejection must not count as unhandled.
        pending.catch(() => {});
      }
      await pending;
    } finally {
      // A rejected write may leave the buffer queued in the destination: reuse only after success.
      if (pending) await pending.then(() => buffers.forEach(giveBack), () => {});
    }
  }
}
