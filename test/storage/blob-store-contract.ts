import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import type { Digest } from "../../src/oci/digest.js";
import { RegistryError } from "../../src/oci/errors.js";
import type { BlobStore } from "../../src/storage/blob-store.js";
import { useContractStore } from "./contract-store.js";

/** The behaviour every BlobStore driver must show. `create` returns a fresh, empty store. */
export function describeBlobStoreContract(
  driver: string,
  create: () => Promise<{ store: BlobStore; cleanup(): Promise<void> }>,
): void {
  describe(`BlobStore contract: ${driver}`, () => {
    const store = useContractStore(create);

    const digestOf = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}` as Digest;
    const read = async (stream: Readable) => {
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    let n = 0;
    const uploadId = () => `contract-${process.pid}-${++n}`;

    it("keeps a blob invisible until its upload is committed", async () => {
      const data = randomBytes(1000);
      const id = uploadId();
      assert.equal((await store.appendUpload(id, 0, Readable.from([data]))).size, 1000);
      assert.equal(await store.stat(digestOf(data)), undefined);
      await store.commitUpload(id, digestOf(data));
      assert.deepEqual(await store.stat(digestOf(data)), { size: 1000 });
      assert.deepEqual(await read(await store.read(digestOf(data))), data);
      assert.equal((await store.uploadState(id)).size, 0, "staging data is gone after commit");
    });

    it("appends chunks in order and reports the staged size", async () => {
      const id = uploadId();
      const a = randomBytes(300);
      const b = randomBytes(700);
      assert.equal((await store.uploadState(id)).size, 0);
      assert.equal((await store.appendUpload(id, 0, Readable.from([a]))).size, 300);
      assert.equal((await store.appendUpload(id, 300, Readable.from([b]))).size, 1000);
      assert.deepEqual(await read(await store.readUpload(id)), Buffer.concat([a, b]));
      await store.deleteUpload(id);
    });

    it("changes the staged version whenever the staged bytes change", async () => {
      const id = uploadId();
      const empty = await store.uploadState(id);
      assert.equal(empty.size, 0);
      const first = await store.appendUpload(id, 0, Readable.from([Buffer.from("abc")]));
      assert.deepEqual(await store.uploadState(id), first, "reading the state again gives the same version");
      assert.notEqual(first.version, empty.version);
      const second = await store.appendUpload(id, 3, Readable.from([Buffer.from("def")]));
      assert.equal(second.size, 6);
      assert.notEqual(second.version, first.version);
      await store.deleteUpload(id);
    });

    it("refuses a chunk at the wrong offset without writing it", async () => {
      const id = uploadId();
      await store.appendUpload(id, 0, Readable.from([Buffer.from("abc")]));
      await assert.rejects(
        store.appendUpload(id, 10, Readable.from([Buffer.from("def")])),
        (err) => err instanceof RegistryError && err.code === "RANGE_INVALID",
      );
      assert.equal((await store.uploadState(id)).size, 3);
      await store.deleteUpload(id);
    });

    it("keeps what arrived before a body broke off, so the client can resume", async () => {
      const id = uploadId();
      const first = randomBytes(64 * 1024);
      const broken = new Readable({
        read() {
          this.push(first);
          this.destroy(new Error("client went away"));
        },
      });
      await assert.rejects(store.appendUpload(id, 0, broken));
      const size = (await store.uploadState(id)).size;
      assert.ok(size <= first.length);
      assert.deepEqual(await read(await store.readUpload(id)), first.subarray(0, size));
      await store.deleteUpload(id);
    });

    it("serves inclusive byte ranges", async () => {
      const data = randomBytes(4096);
      const id = uploadId();
      await store.appendUpload(id, 0, Readable.from([data]));
      await store.commitUpload(id, digestOf(data));
      assert.deepEqual(await read(await store.read(digestOf(data), { start: 100, end: 199 })), data.subarray(100, 200));
      assert.deepEqual(await read(await store.read(digestOf(data), { start: 4095, end: 4095 })), data.subarray(4095));
    });

    it("stores a blob once: committing the same content again discards the new copy", async () => {
      const data = randomBytes(500);
      for (let i = 0; i < 2; i++) {
        const id = uploadId();
        await store.appendUpload(id, 0, Readable.from([data]));
        await store.commitUpload(id, digestOf(data));
        assert.equal((await store.uploadState(id)).size, 0);
      }
      assert.deepEqual(await read(await store.read(digestOf(data))), data);
    });

    it("commits an empty blob", async () => {
      const empty = Buffer.alloc(0);
      const id = uploadId();
      await store.commitUpload(id, digestOf(empty));
      assert.deepEqual(await store.stat(digestOf(empty)), { size: 0 });
    });

    it("rejects reads of an absent blob with BLOB_UNKNOWN", async () => {
      await assert.rejects(
        store.read(digestOf(Buffer.from("never stored"))),
        (err) => err instanceof RegistryError && err.code === "BLOB_UNKNOWN",
      );
    });

    it("deletes blobs and staged uploads idempotently", async () => {
      const data = randomBytes(10);
      const id = uploadId();
      await store.appendUpload(id, 0, Readable.from([data]));
      await store.commitUpload(id, digestOf(data));
      await store.delete(digestOf(data));
      await store.delete(digestOf(data));
      assert.equal(await store.stat(digestOf(data)), undefined);
      await store.deleteUpload("never-started");
    });

    it("deletes many blobs at once, absent ones included, leaving others", async () => {
      const datas = Array.from({ length: 5 }, () => randomBytes(10));
      for (const data of datas) {
        const id = uploadId();
        await store.appendUpload(id, 0, Readable.from([data]));
        await store.commitUpload(id, digestOf(data));
      }
      const doomed = datas.slice(0, 4).map((d) => digestOf(d));
      await store.deleteMany([...doomed, digestOf(Buffer.from("never stored"))]);
      await store.deleteMany(doomed);
      for (const d of doomed) assert.equal(await store.stat(d), undefined);
      assert.equal((await store.stat(digestOf(datas[4]!)))?.size, 10);
      await store.deleteMany([]);
    });

    it("lists uploads that hold staged data", async () => {
      const id = uploadId();
      await store.appendUpload(id, 0, Readable.from([Buffer.from("x")]));
      const ids: string[] = [];
      for await (const u of store.listUploads()) ids.push(u);
      assert.ok(ids.includes(id));
      await store.deleteUpload(id);
      const after: string[] = [];
      for await (const u of store.listUploads()) after.push(u);
      assert.ok(!after.includes(id));
    });

    it("answers ping", async () => {
      await store.ping();
    });
  });
}
