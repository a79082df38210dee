import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scaleOutEnv, startBerth } from "../helpers/berth.js";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";
import { digestOf, randomBlob, uniqueName } from "./client.js";
import { rawClient, type RawClient } from "./limits-support.js";

const STALLED = 60;

describe("limits on S3: clients that stop reading do not starve the others", { skip: skipUnlessS3() || skipUnlessPostgres(), timeout: 120_000 }, () => {
  it(`pulls and pushes go on while ${STALLED} clients sit on blob downloads they never read`, async () => {
    const backend = await scaleOutEnv();
    const b = await startBerth(backend.env);
    const stalled: RawClient[] = [];
    try {
      const name = uniqueName("stalled");
      // Larger than what the sockets between the object store, Berth and the client hold.
      const blob = randomBlob(24 * 1024 * 1024);
      const digest = digestOf(blob);
      const post = await fetch(`${b.url}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: new Uint8Array(blob) });
      assert.equal(post.status, 201);
      for (let i = 0; i < STALLED; i++) {
        const c = await rawClient(b.host);
        c.socket.once("data", () => c.socket.pause());
        c.write(`GET /v2/${name}/blobs/${digest} HTTP/1.1\r\nHost: berth\r\n\r\n`);
        stalled.push(c);
      }
      await new Promise((r) => setTimeout(r, 2000));
      const signal = AbortSignal.timeout(20_000);
      const res = await fetch(`${b.url}/v2/${name}/blobs/${digest}`, { signal });
      assert.equal(res.status, 200);
      assert.equal(digestOf(Buffer.from(await res.arrayBuffer())), digest, "a well-behaved pull completes");
      const small = randomBlob(1000);
      const push = await fetch(`${b.url}/v2/${name}/blobs/uploads/?digest=${digestOf(small)}`, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: new Uint8Array(small), signal });
      assert.equal(push.status, 201, "a push completes");
    } finally {
      for (const c of stalled) c.socket.destroy();
      await b.stop();
      await backend.cleanup();
    }
  });
});
