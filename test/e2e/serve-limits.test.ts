// `berth serve` as operators run it, against hostile clients: it exits within shutdown.timeout
// whatever the clients do, and its log names slow clients and hang-ups at info, never as errors.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { spawnBerth } from "../helpers/berth.js";
import { rawClient, requestHead, sleep, trickle } from "../http/limits-support.js";

describe("berth serve under slow clients", () => {
  it("cuts a trickling upload, logs it and a hang-up at info, and exits within shutdown.timeout with slow clients connected", async () => {
    const data = await mkdtemp(join(tmpdir(), "berth-limits-"));
    const server = await spawnBerth(data, { BERTH_SHUTDOWN_TIMEOUT: "2s", BERTH_MIN_TRANSFER_RATE: "1KiB/s", BERTH_TRANSFER_RATE_WINDOW: "1s", BERTH_IDLE_TIMEOUT: "60s" });
    try {
      const post = () => fetch(`${server.url}/v2/e2e/blobs/uploads/`, { method: "POST" }).then((r) => r.headers.get("location")!);
      const cut = await rawClient(server.host);
      cut.write(requestHead("PATCH", await post(), 10_000));
      void trickle(cut, Buffer.alloc(10_000), 1, 100);
      assert.ok((await cut.closed) < 3000);

      const hangUp = await rawClient(server.host);
      hangUp.write(requestHead("PATCH", await post(), 100_000) + "x".repeat(3000));
      await sleep(200);
      hangUp.socket.resetAndDestroy();

      // Above the rate but never finishing in time: only the shutdown timeout ends it.
      const steady = await rawClient(server.host);
      steady.write(requestHead("PATCH", await post(), 10_000_000));
      const streaming = trickle(steady, Buffer.alloc(10_000_000), 512, 100);
      const idle = await rawClient(server.host);
      idle.write("GET /v2/ HTTP/1.1\r\nHost: berth\r\n\r\n");
      await sleep(500);
      const t0 = Date.now();
      assert.equal(await server.stop(), 0);
      const ms = Date.now() - t0;
      assert.ok(ms < 4000, `exited after ${ms} ms`);
      await Promise.all([steady.closed, idle.closed, streaming]);
      const lines = server.output.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.some((l) => l.msg === "closed slow client" && l.level === "info"), server.output.join("\n"));
      assert.ok(lines.some((l) => l.status === 499 && l.aborted === true && l.level === "info"));
      assert.deepEqual(lines.filter((l) => l.level === "error"), []);
    } finally {
      await server.kill9().catch(() => {});
      await rm(data, { recursive: true, force: true });
    }
  });
});
