import { EventEmitter, once } from "node:events";
import { closeSync, mkdirSync, openSync, readdirSync, read, rmSync, write } from "node:fs";
import { promisify } from "node:util";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { randomUUID } from "node:crypto";
import type { Digest } from "../oci/digest.js";

/** What an upstream answered for a blob: its body and, when it said, its size. */
export interface UpstreamBody {
  size?: number;
  stream: Readable;
}

/**
 * One blob being fetched from an upstream, once for every client that wants it on this node.
 * The bytes are spooled to a local file as they arrive; each client reads that file behind the
 * fetch, so a slow client never slows the others or the fetch. The last byte is held back until
 * the blob is verified and stored: a client of a fetch that fails gets a short body, never a
 * complete-looking wrong one.
 */
export interface BlobFetch {
  readonly digest: Digest;
  readonly size: number | undefined;
  /** Bytes `start` to `end` (inclusive) as they arrive; fails when the fetch fails. Takes over one lease. */
  reader(start?: number, end?: number): Readable;
  /** Gives back a lease without reading (HEAD, or an error before reading). */
  release(): void;
  /** Settles when the blob is stored (or the fetch failed). */
  readonly stored: Promise<void>;
}

export interface BlobFetches {
  /**
   * The fetch of `digest` in progress, joined (`collapsed: true`), or a new one started with
   * `open` (the upstream request) and `store` (verifies and commits the bytes it is given).
   * The caller holds one lease on the result and must call `reader` or `release`.
   */
  obtain(
    digest: Digest,
    open: () => Promise<UpstreamBody>,
    store: (body: Readable, size: number | undefined) => Promise<unknown>,
  ): Promise<{ fetch: BlobFetch; collapsed: boolean }>;
  /** Fetches in progress (metrics, tests). */
  readonly inFlight: number;
}

const READ_SIZE = 256 << 10;
const writeAll = promisify(write);

async function writeAt(fd: number, chunk: Buffer, position: number): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await writeAll(fd, chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}

class Fetch extends EventEmitter implements BlobFetch {
  written = 0;
  finished = false;
  failure: Error | undefined;
  leases = 1;
  stored: Promise<void>;
  #settled = false;

  constructor(
    readonly digest: Digest,
    readonly size: number | undefined,
    readonly path: string,
    run: (fetch: Fetch) => Promise<void>,
  ) {
    super();
    this.setMaxListeners(0);
    this.stored = run(this).then(
      () => this.#settle(),
      (err: Error) => this.#settle(err),
    );
    this.stored.catch(() => {});
  }

  #settle(err?: Error): void {
    if (err) this.failure = err;
    else this.finished = true;
    this.#settled = true;
    this.emit("progress");
    this.#maybeRemove();
  }

  /** How far a reader may read now: everything once stored, all but the last byte before. */
  get available(): number {
    return this.finished ? this.written : Math.max(0, this.written - 1);
  }

  progressed(bytes: number): void {
    this.written += bytes;
    this.emit("progress");
  }

  release(): void {
    this.leases--;
    this.#maybeRemove();
  }

  #maybeRemove(): void {
    if (this.#settled && this.leases <= 0) rmSync(this.path, { force: true });
  }

  reader(start = 0, end?: number): Readable {
    const fd = openSync(this.path, "r");
    let position = start;
    let closed = false;
    const fetch = this;
    const close = () => {
      if (closed) return;
      closed = true;
      closeSync(fd);
      fetch.release();
    };
    return new Readable({
      highWaterMark: READ_SIZE,
      read() {
        const pump = () => {
          const last = end === undefined ? undefined : end + 1;
          if (fetch.failure) return this.destroy(fetch.failure);
          const limit = last === undefined ? fetch.available : Math.min(last, fetch.available);
          if (position >= limit) {
            if (fetch.finished && (last === undefined || position >= last)) return this.push(null);
            fetch.once("progress", pump);
            return;
          }
          const buffer = Buffer.allocUnsafe(Math.min(READ_SIZE, limit - position));
          read(fd, buffer, 0, buffer.length, position, (err, bytes) => {
            if (err) return this.destroy(err);
            position += bytes;
            this.push(bytes === buffer.length ? buffer : buffer.subarray(0, bytes));
          });
        };
        pump();
      },
      destroy(err, callback) {
        close();
        callback(err);
      },
    });
  }
}

/** Spooled fetches under `spoolDir`, which is emptied at start: what a crash left there is never a blob. */
export function createBlobFetches(spoolDir: string): BlobFetches {
  mkdirSync(spoolDir, { recursive: true });
  for (const entry of readdirSync(spoolDir)) rmSync(join(spoolDir, entry), { force: true, recursive: true });
  interface Entry {
    starting: Promise<Fetch>;
    fetch?: Fetch;
    /** Callers that joined before the upstream answered: each holds a lease once the fetch exists. */
    waiting: number;
  }
  const pending = new Map<string, Entry>();

  async function run(fetch: Fetch, body: UpstreamBody, store: (body: Readable, size: number | undefined) => Promise<unknown>): Promise<void> {
    const fd = openSync(fetch.path, "w");
    const toStore = new PassThrough({ highWaterMark: 1 << 20 });
    // The store learns of a failed fetch by reading; it may not have started (it awaits its
    // metadata first), and an 'error' no one listens to would take the whole process down.
    toStore.on("error", () => {});
    const storing = store(toStore, fetch.size);
    let storeFailed: Error | undefined;
    storing.catch((err: Error) => {
      storeFailed = err;
      body.stream.destroy();
    });
    try {
      for await (const chunk of body.stream as AsyncIterable<Buffer>) {
        if (storeFailed) break;
        await writeAt(fd, chunk, fetch.written);
        fetch.progressed(chunk.length);
        if (!toStore.write(chunk)) await Promise.race([once(toStore, "drain"), storing.catch(() => {})]);
      }
      if (fetch.size !== undefined && fetch.written !== fetch.size && !storeFailed) {
        throw new Error(`the upstream sent ${fetch.written} of ${fetch.size} bytes`);
      }
      toStore.end();
      await storing;
    } catch (err) {
      toStore.destroy(err as Error);
      await storing.catch(() => {});
      throw storeFailed ?? err;
    } finally {
      closeSync(fd);
    }
  }

  return {
    get inFlight() {
      return pending.size;
    },
    async obtain(digest, open, store) {
      const entry = pending.get(digest);
      if (entry?.fetch && !entry.fetch.failure) {
        // Counted before any await, so the spool file outlives this caller's wait.
        entry.fetch.leases++;
        return { fetch: entry.fetch, collapsed: true };
      }
      if (entry && !entry.fetch) {
        entry.waiting++;
        return { fetch: await entry.starting, collapsed: true };
      }
      const created: Entry = { waiting: 0, starting: Promise.resolve(undefined as unknown as Fetch) };
      created.starting = (async () => {
        const body = await open();
        const fetch = new Fetch(digest, body.size, join(spoolDir, randomUUID()), (f) => run(f, body, store));
        fetch.leases += created.waiting;
        created.fetch = fetch;
        void fetch.stored.finally(() => {
          if (pending.get(digest) === created) pending.delete(digest);
        });
        return fetch;
      })();
      pending.set(digest, created);
      created.starting.catch(() => {
        if (pending.get(digest) === created) pending.delete(digest);
      });
      return { fetch: await created.starting, collapsed: false };
    },
  };
}
