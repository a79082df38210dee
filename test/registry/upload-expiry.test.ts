import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startBerth } from "../helpers/berth.js";
import { patchChunk, startUpload } from "../helpers/upload-session.js";

describe("upload expiry", () => {
  it("cancels an idle upload after uploads.expiry and purges its staged bytes", async () => {
    const berth = await startBerth({ BERTH_UPLOAD_EXPIRY: "1s", BERTH_UPLOAD_PURGE_INTERVAL: "1s" });
    try {
      const location = await startUpload(berth.url, "expiry/app");
      assert.equal((await patchChunk(location, Buffer.alloc(1000, 1), 0)).status, 202);
      assert.equal((await readdir(join(berth.data, "uploads"))).length, 1);
      const fresh = await startUpload(berth.url, "expiry/app");
      await new Promise((r) => setTimeout(r, 2600));
      const res = await fetch(location);
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code, "BLOB_UPLOAD_UNKNOWN");
      assert.deepEqual(await readdir(join(berth.data, "uploads")), [], "staged bytes are deleted");
      assert.equal((await fetch(fresh)).status, 404, "an upload that never received bytes expires too");
    } finally {
      await berth.stop();
    }
  });

  it("keeps an upload alive while it receives chunks", async () => {
    const berth = await startBerth({ BERTH_UPLOAD_EXPIRY: "2s", BERTH_UPLOAD_PURGE_INTERVAL: "1s" });
    try {
      const location = await startUpload(berth.url, "expiry/busy");
      for (let i = 0; i < 4; i++) {
        assert.equal((await patchChunk(location, Buffer.alloc(10, i), i * 10)).status, 202);
        await new Promise((r) => setTimeout(r, 900));
      }
      assert.equal((await fetch(location)).headers.get("range"), "0-39");
    } finally {
      await berth.stop();
    }
  });
});
