import { once } from "node:events";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable, type Writable } from "node:stream";
import { randomUUID, type Hash } from "node:crypto";
import { createDigester, digestAlgorithm, type Digest } from "../oci/digest.js";
import type { DirectReadable } from "../storage/blob-store.js";
import { Spool } from "./spool.js";

/** What an upstream answered for a blob: its body and, when it said, its size. */
export interface UpstreamBody {
  size?: number;
  stream: Readable;
  /** Told of each chunk's size as it arrives (metrics). */
  received?: (bytes: number) => void;
}

/**
 * One blob being fetched from an upstream, once for every client that wants it on this node.
 * The bytes are spooled to a local file as they arrive (spool.ts); each client is handed them
 * from memory while it keeps up and reads that file when it falls behind, so a slow client never
 * slows the others or the fetch. The last byte is held back until the blob is verified and
 * stored: a client of a fetch that fails gets a short body, never a complete-looking wrong one.
 */
export interface BlobFetch {
  readonly digest: Digest;
  readonly size: number | undefined;
  /**
   * Bytes `start` to `end` (inclusive) as they arrive; fails when the fetch fails. Takes over one
   * lease. A DirectReadable: `writeTo` copies without the stream machinery.
   */
  reader(start?: number, end?: number): Readable;
  /** Gives back a lease without reading (HEAD, or an error before reading). */
  release(): void;
  /** Resolves once the upstream sent a first byte; rejects when the fetch failed before it did. */
  started(): Promise<void>;
  /** Settles when the blob is stored (or the fetch failed). */
  readonly stored: Promise<void>;
}

/**
 * How a fetched blob is stored, verified against its digest and committed: `stream` is given the
 * bytes as they arrive (an object store uploads while the fetch runs); `file` is given the
 * finished spool file, its hash taken as it was written, and moves it into the store (a store on
 * the local filesystem renames it instead of writing every byte a second time). Either rejects
 * when the bytes are not the blob.
 */
export type BlobSink =
  | { kind: "stream"; store(body: Readable, size: number | undefined): Promise<unknown> }
  | {
      kind: "file";
      /** Bytes between background fdatasyncs of the spool file, when the store fsyncs what it takes over. */
      syncEvery?: number;
      store(path: string, hash: Hash, size: number): Promise<unknown>;
    };

export interface BlobFetches {
  /**
   * The fetch of `digest` in progress, joined (`collapsed: true`), or a new one started with
   * `open` (the upstream request) and stored through `sink`.
   * The caller holds one lease on the result and must call `reader` or `release`.
   */
  obtain(digest: Digest, open: () => Promise<UpstreamBody>, sink: BlobSink): Promise<{ fetch: BlobFetch; collapsed: boolean }>;
  /** Fetches in progress (metrics, tests). */
  readonly inFlight: number;
}

class Fetch implements BlobFetch {
  leases = 1;
  readonly stored: Promise<void>;
  #settled = false;
  #removed = false;

  constructor(
    readonly digest: Digest,
    readonly size: number | undefined,
    readonly spool: Spool,
    run: (fetch: Fetch) => Promise<void>,
  ) {
    this.stored = run(this).then(
      () => this.#settle(),
      (err: Error) => this.#settle(err),
    );
    this.stored.catch(() => {});
  }

  #settle(err?: Error): void {
    this.spool.settle(err);
    this.#settled = true;
    this.#maybeRemove();
  }

  started(): Promise<void> {
    return this.spool.started();
  }

  release(): void {
    this.leases--;
    this.#maybeRemove();
  }

  #maybeRemove(): void {
    if (!this.#settled || this.leases > 0 || this.#removed) return;
    this.#removed = true;
    this.spool.close();
    // Gone already when the store took the file over. Not rmSync: unlinking a big file takes milliseconds.
    rm(this.spool.path, { force: true }).catch(() => {});
  }

  reader(start = 0, end?: number): Readable {
    const { spool } = this;
    const last = end === undefined ? undefined : end + 1;
    let position = start;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.release();
    };
    const stream = new Readable({
      read() {
        spool.next(position, last).then(
          (bytes) => {
            if (bytes) position += bytes.length;
            this.push(bytes);
          },
          (err: Error) => this.destroy(err),
        );
      },
      destroy(err, callback) {
        release();
        callback(err);
      },
    });
    return Object.assign(stream, {
      async writeTo(dest: Writable) {
        try {
          await spool.copyTo(dest, start, last);
        } finally {
          stream.destroy();
        }
      },
    }) satisfies DirectReadable;
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

  async function run(fetch: Fetch, body: UpstreamBody, sink: BlobSink): Promise<void> {
    const { spool } = fetch;
    const hash = sink.kind === "file" ? createDigester(digestAlgorithm(fetch.digest)) : undefined;
    const toStore = sink.kind === "stream" ? new PassThrough({ highWaterMark: 1 << 20 }) : undefined;
    // The store learns of a failed fetch by reading; it may not have started (it awaits its
    // metadata first), and an 'error' no one listens to would take the whole process down.
    toStore?.on("error", () => {});
    const storing = sink.kind === "stream" ? sink.store(toStore!, fetch.size) : undefined;
    let storeFailed: Error | undefined;
    storing?.catch((err: Error) => {
      storeFailed = err;
      body.stream.destroy();
    });
    try {
      for await (const chunk of body.stream as AsyncIterable<Buffer>) {
        if (storeFailed) break;
        body.received?.(chunk.length);
        hash?.update(chunk);
        const behind = spool.append(chunk);
        if (behind) await behind;
        if (toStore && !toStore.write(chunk)) await Promise.race([once(toStore, "drain"), storing!.catch(() => {})]);
      }
      await spool.flush();
      if (fetch.size !== undefined && spool.written !== fetch.size && !storeFailed) {
        throw new Error(`the upstream sent ${spool.written} of ${fetch.size} bytes`);
      }
      if (sink.kind === "file") {
        await sink.store(spool.path, hash!, spool.written);
        return;
      }
      toStore!.end();
      await storing;
    } catch (err) {
      await spool.flush().catch(() => {});
      toStore?.destroy(err as Error);
      await storing?.catch(() => {});
      throw storeFailed ?? err;
    }
  }

  return {
    get inFlight() {
      return pending.size;
    },
    async obtain(digest, open, sink) {
      const entry = pending.get(digest);
      if (entry?.fetch && !entry.fetch.spool.failure) {
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
        const fetch = new Fetch(digest, body.size, new Spool(join(spoolDir, randomUUID()), sink.kind === "file" ? sink.syncEvery : undefined), (f) => run(f, body, sink));
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
