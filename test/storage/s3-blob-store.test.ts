import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import type { Digest } from "../../src/oci/digest.js";
import { RegistryError } from "../../src/oci/errors.js";
import { createS3BlobStore, type S3BlobStoreOptions } from "../../src/storage/drivers/s3-blob-store.js";
import { deleteBucket, s3Settings, skipUnlessS3, uniqueBucket } from "../helpers/services.js";
import { describeBlobStoreContract } from "./blob-store-contract.js";

function options(bucket: string, extra: Partial<S3BlobStoreOptions> = {}): S3BlobStoreOptions {
  const s = s3Settings()!;
  return { bucket, endpoint: s.endpoint, region: s.region, accessKeyId: s.accessKey, secretAccessKey: s.secretKey, forcePathStyle: true, create: true, ...extra };
}

const digestOf = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}` as Digest;
const read = async (stream: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

describe("s3 BlobStore", { skip: skipUnlessS3() }, () => {
  describeBlobStoreContract("s3", async () => {
    const bucket = uniqueBucket();
    return { store: await createS3BlobStore(options(bucket)), cleanup: () => deleteBucket(bucket) };
  });

  it("assembles chunks of mixed sizes into one blob: small ones gathered, large ones copied", async () => {
    const bucket = uniqueBucket();
    const store = await createS3BlobStore(options(bucket));
    try {
      const MiB = 1024 * 1024;
      const chunks = [1 * MiB, 1 * MiB, 6 * MiB, 2 * MiB, 7 * MiB, 100].map((n) => randomBytes(n));
      let offset = 0;
      for (const chunk of chunks) {
        offset = (await store.appendUpload("mixed", offset, Readable.from([chunk]))).size;
      }
      const whole = Buffer.concat(chunks);
      assert.equal(offset, whole.length);
      assert.deepEqual(await read(await store.readUpload("mixed")), whole);
      await store.commitUpload("mixed", digestOf(whole));
      assert.deepEqual(await store.stat(digestOf(whole)), { size: whole.length });
      assert.ok((await read(await store.read(digestOf(whole)))).equals(whole));
      assert.equal((await store.uploadState("mixed")).size, 0, "segments are removed after commit");
    } finally {
      await store.close();
      await deleteBucket(bucket);
    }
  });

  it("streams a chunk of unknown length larger than one part without holding it", async () => {
    const bucket = uniqueBucket();
    const store = await createS3BlobStore(options(bucket));
    try {
      const data = randomBytes(20 * 1024 * 1024);
      const body = Readable.from((function* () {
        for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
      })());
      assert.equal((await store.appendUpload("big", 0, body)).size, data.length);
      await store.commitUpload("big", digestOf(data));
      assert.ok((await read(await store.read(digestOf(data), { start: 10, end: 1_000_009 }))).equals(data.subarray(10, 1_000_010)));
    } finally {
      await store.close();
      await deleteBucket(bucket);
    }
  });

  it("lets another node continue an upload and sees the staged version change", async () => {
    const bucket = uniqueBucket();
    const a = await createS3BlobStore(options(bucket));
    const b = await createS3BlobStore(options(bucket, { createBucket: false }));
    try {
      const first = await a.appendUpload("shared", 0, Readable.from([Buffer.from("hello ")]));
      assert.deepEqual(await b.uploadState("shared"), first);
      const second = await b.appendUpload("shared", first.size, Readable.from([Buffer.from("world")]));
      assert.deepEqual(await a.uploadState("shared"), second);
      assert.notEqual(second.version, first.version);
      assert.equal((await read(await a.readUpload("shared"))).toString(), "hello world");
    } finally {
      await a.close();
      await b.close();
      await deleteBucket(bucket);
    }
  });

  it("detects two nodes that wrote the same offset instead of mixing their bytes", async () => {
    const bucket = uniqueBucket();
    const a = await createS3BlobStore(options(bucket));
    const b = await createS3BlobStore(options(bucket, { createBucket: false }));
    try {
      const results = await Promise.allSettled([
        a.appendUpload("race", 0, Readable.from([Buffer.from("aaaa")])),
        b.appendUpload("race", 0, Readable.from([Buffer.from("bbbb")])),
      ]);
      const refused = results.filter((r) => r.status === "rejected");
      if (refused.length === 0) {
        // Both listed the upload before either wrote: the overlap is detected, never served.
        await assert.rejects(a.uploadState("race"), (e) => e instanceof RegistryError && e.code === "BLOB_UPLOAD_INVALID");
      } else {
        // One wrote first: the other was refused at its offset and the winner's bytes stand alone.
        assert.equal(refused.length, 1);
        const reason = (refused[0] as PromiseRejectedResult).reason as unknown;
        assert.ok(reason instanceof RegistryError && reason.code === "RANGE_INVALID");
        const staged = (await read(await a.readUpload("race"))).toString();
        assert.ok(staged === "aaaa" || staged === "bbbb", staged);
      }
    } finally {
      await a.close();
      await b.close();
      await deleteBucket(bucket);
    }
  });

  it("offers presigned URLs when redirect is on, which serve the blob", async () => {
    const bucket = uniqueBucket();
    const store = await createS3BlobStore(options(bucket, { redirectTtlMs: 60_000 }));
    try {
      const data = randomBytes(1000);
      await store.appendUpload("r", 0, Readable.from([data]));
      await store.commitUpload("r", digestOf(data));
      const url = await store.redirectUrl!(digestOf(data));
      assert.ok(url);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
    } finally {
      await store.close();
      await deleteBucket(bucket);
    }
  });
});
