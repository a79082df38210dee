import { constants } from "node:fs";
import { copyFile, mkdir, open, readdir, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import { join } from "node:path";
import { digestAlgorithm, digestHex, type Digest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import { collectYoungGarbage } from "../../gc-nudge.js";
import type { ByteRange } from "../../oci/range.js";
import type { BlobStore, UploadState } from "../blob-store.js";
import { createFileReadStream } from "./file-transfer.js";
import { StoreMissingError } from "./store-missing.js";

/**
 * Layout under `root`:
 *
 *   blobs/<algorithm>/<first two hex chars>/<hex>   committed blobs, immutable, named by content
 *   uploads/<upload id>                             staged bytes of an upload in progress
 *
 * A blob reaches blobs/ only by rename(2) from uploads/ after an fsync of the file, followed by an
 * fsync of the directory, so a crash leaves either the whole blob or none of it under its name.
 */
export interface FilesystemBlobStoreOptions {
  root: string;
  /** fsync blobs before they become visible (default true). Off trades durability on power loss for speed. */
  fsync?: boolean;
  /** Create `root` and its layout when absent (default false: no `blobs/` is a StoreMissingError). */
  create?: boolean;
}

const READ_CHUNK = 1024 * 1024;
const UPLOAD_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "ENOENT";
}

/** Bytes gathered from the body before one writev. */
const WRITE_BATCH = 1024 * 1024;
/** With fsync on, bytes written between background datasyncs during one append. */
const EARLY_FLUSH = 32 * 1024 * 1024;
/** Bytes appended between young-generation collections (gc-nudge.ts): the bound on dead chunks held. */
const COLLECT_EVERY = 2 * 1024 * 1024;

/**
 * Writes `body` to the end of `handle`, gathering the socket's small chunks into writes of about
 * 1 MiB, one in flight while the next batch gathers: far fewer thread-pool round trips than a
 * write per chunk, and receiving overlaps writing. On a broken body what arrived is still written:
 * the size on disk is where a client resumes.
 */
async function appendBatched(handle: FileHandle, body: Readable, flushEvery: number): Promise<void> {
  let batch: Buffer[] = [];
  let gathered = 0;
  let inflight: Promise<unknown> = Promise.resolve();
  let unsynced = 0;
  let syncing: Promise<unknown> | undefined;
  let sinceCollect = 0;
  const flush = async () => {
    await inflight;
    if (batch.length === 0) return;
    const expected = gathered;
    inflight = handle.writev(batch).then(({ bytesWritten }) => {
      // Short only when the disk fills up; the running hash already covers these bytes, so stop here.
      if (bytesWritten !== expected) throw new Error(`short write: ${bytesWritten} of ${expected} bytes`);
    });
    // Awaited by the next flush; a failure must not count as unhandled meanwhile.
    inflight.catch(() => {});
    unsynced += gathered;
    sinceCollect += gathered;
    batch = [];
    gathered = 0;
    if (sinceCollect >= COLLECT_EVERY) {
      sinceCollect = 0;
      collectYoungGarbage();
    }
    // Durable stores: start the disk on what is written while more arrives, so the fsync at
    // commit finds little left to flush. One at a time; the commit's fsync stays the guarantee.
    if (unsynced >= flushEvery && !syncing) {
      unsynced = 0;
      const started = inflight.then(() => handle.datasync());
      syncing = started.finally(() => (syncing = undefined));
      syncing.catch(() => {});
    }
  };
  try {
    for await (const chunk of body) {
      batch.push(chunk as Buffer);
      gathered += (chunk as Buffer).length;
      if (gathered >= WRITE_BATCH) await flush();
    }
  } finally {
    await flush();
    await inflight;
    await syncing;
  }
}

export async function createFilesystemBlobStore(options: FilesystemBlobStoreOptions): Promise<BlobStore> {
  const fsync = options.fsync ?? true;
  const blobsDir = join(options.root, "blobs");
  const uploadsDir = join(options.root, "uploads");
  if (options.create) await mkdir(blobsDir, { recursive: true });
  else if (!(await stat(blobsDir).then((s) => s.isDirectory(), () => false))) throw new StoreMissingError(blobsDir);
  await mkdir(uploadsDir, { recursive: true });

  /** Fan-out directories seen to exist (at most 256 per algorithm); GC never removes them. */
  const knownDirs = new Set<string>();
  const blobPath = (digest: Digest) => {
    const hex = digestHex(digest);
    return join(blobsDir, digestAlgorithm(digest), hex.slice(0, 2), hex);
  };
  const uploadPath = (id: string) => {
    if (!UPLOAD_ID_RE.test(id)) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", "invalid upload id", { id });
    return join(uploadsDir, id);
  };
  const stateOf = async (path: string): Promise<UploadState> => {
    try {
      const info = await stat(path, { bigint: true });
      return { size: Number(info.size), version: `${info.size}:${info.mtimeNs}:${info.ino}` };
    } catch (err) {
      if (isNotFound(err)) return { size: 0, version: "empty" };
      throw err;
    }
  };
  const sizeOf = async (path: string) => {
    try {
      return (await stat(path)).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const syncDir = async (dir: string) => {
    const handle = await open(dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };

  return {
    async stat(digest) {
      const size = await sizeOf(blobPath(digest));
      return size === undefined ? undefined : { size };
    },

    async read(digest, range?: ByteRange) {
      let handle;
      try {
        handle = await open(blobPath(digest), "r");
      } catch (err) {
        if (isNotFound(err)) throw new RegistryError("BLOB_UNKNOWN", undefined, { digest });
        throw err;
      }
      return createFileReadStream(handle, range?.start, range?.end);
    },

    async delete(digest) {
      await rm(blobPath(digest), { force: true });
    },

    async deleteMany(digests) {
      let next = 0;
      const worker = async () => {
        while (next < digests.length) await rm(blobPath(digests[next++]!), { force: true });
      };
      await Promise.all(Array.from({ length: Math.min(16, digests.length) }, worker));
    },

    async uploadState(id) {
      return stateOf(uploadPath(id));
    },

    async appendUpload(id, offset, body) {
      // Opened (created) first and asked through the handle: no failing stat for a new upload.
      const handle = await open(uploadPath(id), "a");
      try {
        const current = Number((await handle.stat()).size);
        if (current !== offset) {
          body.resume();
          throw new RegistryError("RANGE_INVALID", `upload holds ${current} bytes, chunk starts at ${offset}`, {
            size: current,
          });
        }
        await appendBatched(handle, body, fsync ? EARLY_FLUSH : Infinity);
        const info = await handle.stat({ bigint: true });
        return { size: Number(info.size), version: `${info.size}:${info.mtimeNs}:${info.ino}` };
      } finally {
        await handle.close();
      }
    },

    async adoptUpload(id, path) {
      const target = uploadPath(id);
      try {
        await rename(path, target);
      } catch (err) {
        // The spool on another filesystem than the store: one copy after all.
        if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
        await copyFile(path, target);
        await rm(path, { force: true });
      }
      return stateOf(target);
    },

    async readUpload(id) {
      const path = uploadPath(id);
      if ((await sizeOf(path)) === undefined) await writeFile(path, "");
      return (await open(path, "r")).createReadStream({ highWaterMark: READ_CHUNK });
    },

    async commitUpload(id, digest) {
      const source = uploadPath(id);
      const target = blobPath(digest);
      if ((await sizeOf(source)) === undefined) await writeFile(source, "");
      // A blob already there is replaced by identical bytes: cheaper than asking first, every time.
      if (fsync) {
        const handle = await open(source, "r+");
        try {
          await handle.datasync();
        } finally {
          await handle.close();
        }
      }
      const dir = join(target, "..");
      const created = knownDirs.has(dir) ? undefined : await mkdir(dir, { recursive: true });
      await rename(source, target);
      if (fsync) {
        await syncDir(dir);
        if (created !== undefined) await syncDir(join(created, ".."));
      }
      knownDirs.add(dir);
    },

    async deleteUpload(id) {
      await rm(uploadPath(id), { force: true });
    },

    async *listUploads() {
      for (const entry of await readdir(uploadsDir)) {
        if (UPLOAD_ID_RE.test(entry)) yield entry;
      }
    },

    async ping() {
      const probe = join(uploadsDir, ".ping");
      await writeFile(probe, "");
      await rm(probe, { force: true });
    },

    async close() {},
  };
}
