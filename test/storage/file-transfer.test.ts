import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { digestOf, type Digest } from "../../src/oci/digest.js";
import { isDirectReadable } from "../../src/storage/blob-store.js";
import type { BlobStore } from "../../src/storage/blob-store.js";
import { createFilesystemBlobStore } from "../../src/storage/drivers/filesystem-blob-store.js";

/** A destination that takes `delayMs` per write, so reads run ahead of writes as far as they may. */
function slowSink(delayMs: number): Writable & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, done) {
      // Copied only when the write completes: a buffer the source refilled while it was still
      // being written shows up as wrong bytes.
      setTimeout(() => {
        parts.push(Buffer.from(chunk));
        done();
      }, delayMs);
    },
  });
  return Object.assign(sink, { bytes: () => Buffer.concat(parts) });
}

describe("filesystem blob reads written directly (writeTo)", () => {
  let root: string;
  let store: BlobStore;
  const data = randomBytes(5 * 1024 * 1024 + 12345);
  let digest: Digest;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-transfer-"));
    store = await createFilesystemBlobStore({ root, fsync: false, create: true });
    await store.appendUpload("u", 0, Readable.from([data]));
    digest = digestOf(data);
    await store.commitUpload("u", digest);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("delivers every byte of a multi-chunk blob to a slow destination, in order", async () => {
    const stream = await store.read(digest);
    assert.ok(isDirectReadable(stream));
    const sink = slowSink(5);
    await stream.writeTo(sink);
    assert.ok(sink.bytes().equals(data));
  });

  it("delivers ranges that start and end inside different chunks", async () => {
    for (const [start, end] of [[0, 0], [1048575, 1048576], [1000, 3 * 1048576 + 7], [data.length - 3, data.length - 1]] as const) {
      const stream = await store.read(digest, { start, end });
      assert.ok(isDirectReadable(stream));
      const sink = slowSink(1);
      await stream.writeTo(sink);
      assert.ok(sink.bytes().equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
    }
  });

  it("keeps concurrent transfers apart while they share the buffer pool", async () => {
    const sinks = Array.from({ length: 6 }, (_, i) => slowSink(i % 3));
    await Promise.all(sinks.map(async (sink) => {
      const stream = await store.read(digest);
      assert.ok(isDirectReadable(stream));
      await stream.writeTo(sink);
    }));
    for (const sink of sinks) assert.ok(sink.bytes().equals(data));
  });

  it("rejects as a premature close when the destination is destroyed midway", async () => {
    const stream = await store.read(digest);
    assert.ok(isDirectReadable(stream));
    const sink = slowSink(10);
    setTimeout(() => sink.destroy(), 25);
    await assert.rejects(stream.writeTo(sink), { code: "ERR_STREAM_PREMATURE_CLOSE" });
    assert.ok(stream.destroyed, "the file is closed");
  });
});
