import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { startBerth } from "../helpers/berth.js";
import { pushBlob } from "../helpers/push.js";
import { s3Settings, skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";

describe("blob downloads straight from the object store", { skip: skipUnlessS3() || skipUnlessPostgres() }, () => {
  it("GET /v2/<name>/blobs/<digest> answers 307 to a presigned URL that serves the bytes, when storage.s3.redirect is on", async () => {
    process.env.BERTH_TEST_BACKEND = "s3-postgres";
    const berth = await startBerth({ BERTH_S3_REDIRECT: "true" });
    try {
      const blob = randomBytes(100_000);
      const digest = await pushBlob(berth.url, "redirect/app", blob);
      const res = await fetch(`${berth.url}/v2/redirect/app/blobs/${digest}`, { redirect: "manual" });
      assert.equal(res.status, 307);
      const location = res.headers.get("location")!;
      assert.ok(location.startsWith(s3Settings()!.endpoint), location);
      assert.equal(res.headers.get("docker-content-digest"), digest);
      const followed = await fetch(`${berth.url}/v2/redirect/app/blobs/${digest}`);
      assert.equal(followed.status, 200);
      assert.ok(Buffer.from(await followed.arrayBuffer()).equals(blob));
      const head = await fetch(`${berth.url}/v2/redirect/app/blobs/${digest}`, { method: "HEAD" });
      assert.equal(head.status, 200, "HEAD is answered by Berth itself");
      assert.equal(head.headers.get("content-length"), String(blob.length));
      const other = await fetch(`${berth.url}/v2/redirect/other/blobs/${digest}`, { redirect: "manual" });
      assert.equal(other.status, 404, "no presigned URL for a repository that does not hold the blob");
    } finally {
      await berth.stop();
      delete process.env.BERTH_TEST_BACKEND;
    }
  });
});
