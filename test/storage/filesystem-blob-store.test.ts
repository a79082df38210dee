import assert from "node:assert/strict";
import { access, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { digestOf } from "../../src/oci/digest.js";
import { createFilesystemBlobStore } from "../../src/storage/drivers/filesystem-blob-store.js";
import { describeBlobStoreContract } from "./blob-store-contract.js";

const tempStore = async (fsync: boolean) => {
  const root = await mkdtemp(join(tmpdir(), "berth-fs-"));
  return { root, store: await createFilesystemBlobStore({ root, fsync, create: true }), cleanup: () => rm(root, { recursive: true, force: true }) };
};

describeBlobStoreContract("filesystem (fsync)", () => tempStore(true));
describeBlobStoreContract("filesystem (no fsync)", () => tempStore(false));

describe("filesystem BlobStore layout", () => {
  it("stores a committed blob under blobs/<algorithm>/<2 hex>/<hex> and nothing else outside uploads/", async () => {
    const { root, store, cleanup } = await tempStore(true);
    const data = Buffer.from("layout");
    await store.appendUpload("u1", 0, Readable.from([data]));
    await store.commitUpload("u1", digestOf(data));
    const hex = digestOf(data).slice(7);
    assert.deepEqual(await readdir(join(root, "blobs", "sha256", hex.slice(0, 2))), [hex]);
    assert.deepEqual(await readdir(join(root, "uploads")), []);
    await cleanup();
  });

  for (const [where, dir] of [["on the same filesystem", tmpdir()], ["on another filesystem (tmpfs: copied)", "/dev/shm"]] as const) {
    it(`adoptUpload takes over a file ${where}: it leaves its path, stages the bytes, and commits as a blob`, async (t) => {
      if (dir === "/dev/shm" && !(await access(dir).then(() => true, () => false))) return t.skip("no /dev/shm");
      const { root, store, cleanup } = await tempStore(true);
      const spool = await mkdtemp(join(dir, "berth-fs-spool-"));
      const file = join(spool, "fetched");
      const data = Buffer.from("bytes fetched from an upstream\n".repeat(1000));
      await writeFile(file, data);
      const state = await store.adoptUpload!("u2", file);
      assert.equal(state.size, data.length);
      assert.deepEqual(await readdir(spool), []);
      assert.deepEqual(await store.uploadState("u2"), state);
      await store.commitUpload("u2", digestOf(data));
      const read: Buffer[] = [];
      for await (const chunk of await store.read(digestOf(data))) read.push(chunk as Buffer);
      assert.deepEqual(Buffer.concat(read), data);
      assert.deepEqual(await readdir(join(root, "uploads")), []);
      await rm(spool, { recursive: true, force: true });
      await cleanup();
    });
  }

  it("refuses upload ids that could escape the staging directory", async () => {
    const { store, cleanup } = await tempStore(false);
    await assert.rejects(store.appendUpload("../../etc", 0, Readable.from([Buffer.from("x")])));
    await cleanup();
  });
});
