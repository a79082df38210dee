import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadConfig } from "../../src/config/load.js";
import { createRequestLimiter } from "../../src/http/limits.js";
import { countRequestBytes } from "../../src/http/metrics.js";
import { silentLogger } from "../../src/logger.js";
import { startBerth } from "../helpers/berth.js";
import { digestOf, randomBlob, uniqueName } from "./client.js";
import { capturingLogger, rawClient, requestHead, sleep, trickle } from "./limits-support.js";

/** Limits small enough for a test: cut below 1 KiB/s over 2 s, or 2 s without a byte. */
const SMALL = { BERTH_MIN_TRANSFER_RATE: "1KiB/s", BERTH_TRANSFER_RATE_WINDOW: "2s", BERTH_IDLE_TIMEOUT: "2s", BERTH_HEADER_TIMEOUT: "1s" };

async function startUpload(url: string, name: string): Promise<string> {
  const res = await fetch(`${url}/v2/${name}/blobs/uploads/`, { method: "POST" });
  assert.equal(res.status, 202);
  return res.headers.get("location")!;
}

describe("limits: slow and idle clients", () => {
  it("answers 408 to a client trickling its headers past the header timeout, and closes it", async () => {
    const b = await startBerth(SMALL);
    try {
      const client = await rawClient(b.host);
      void trickle(client, "GET /v2/ HTTP/1.1\r\nHost: berth\r\nX-Slow: " + "a".repeat(100), 1, 100);
      const ms = await client.closed;
      assert.match(client.received(), /^HTTP\/1\.1 408 Request Timeout/);
      assert.ok(ms < 3000, `closed after ${ms} ms`);
      const garbled = await rawClient(b.host);
      garbled.write("NOT HTTP AT ALL\r\n\r\n");
      await garbled.closed;
      assert.match(garbled.received(), /^HTTP\/1\.1 400 Bad Request/, "a malformed request is still a 400");
    } finally {
      await b.stop();
    }
  });

  it("cuts a body trickled below the minimum rate within the window, commits nothing, and the upload resumes", async () => {
    const { logger, lines } = capturingLogger();
    const b = await startBerth(SMALL, { logger });
    try {
      const name = uniqueName("slow");
      const location = await startUpload(b.url, name);
      const blob = randomBlob(4096);
      const client = await rawClient(b.host);
      client.write(requestHead("PATCH", location, blob.length));
      client.write(blob.subarray(0, 100));
      const sent = 100 + (await trickle(client, blob.subarray(100), 1, 50));
      const ms = await client.closed;
      assert.ok(sent < blob.length, "the client was cut before it finished");
      assert.ok(ms < 4500, `closed after ${ms} ms`);
      const cut = lines.find((l) => l.msg === "closed slow client");
      assert.equal(cut?.level, "info");
      assert.equal(cut?.path, location);
      assert.ok(typeof cut?.bytes === "number" && typeof cut?.rate === "string" && cut?.remote === "127.0.0.1", JSON.stringify(cut));
      assert.ok(!lines.some((l) => l.level === "error"), "a slow client is no server error");
      assert.match(await (await fetch(`${b.url}/metrics`)).text(), /^berth_http_limited_total\{limit="slow_body"\} 1$/m);

      const digest = digestOf(blob);
      assert.equal((await fetch(`${b.url}/v2/${name}/blobs/${digest}`, { method: "HEAD" })).status, 404);
      const status = await fetch(`${b.url}${location}`);
      assert.equal(status.status, 204);
      // `0-0` is an empty upload (the registry API's convention), `0-N` holds N+1 bytes.
      const rangeEnd = (res: Response) => {
        const end = Number(/^0-(\d+)$/.exec(res.headers.get("range")!)![1]);
        return end === 0 ? 0 : end + 1;
      };
      let held = rangeEnd(status);
      assert.ok(held <= sent, `holds ${held} of ${sent} bytes sent`);
      // The filesystem keeps what arrived of the cut chunk, S3 drops it whole (possibly just after the
      // status was read): a 416 says where the upload stands, and the client resumes from there.
      const resume = (from: number) =>
        fetch(`${b.url}${location}`, {
          method: "PATCH",
          headers: { "Content-Range": `${from}-${blob.length - 1}`, "Content-Type": "application/octet-stream" },
          body: new Uint8Array(blob.subarray(from)),
        });
      let patched = await resume(held);
      if (patched.status === 416) {
        held = rangeEnd(patched);
        patched = await resume(held);
      }
      assert.equal(patched.status, 202);
      const done = await fetch(`${b.url}${patched.headers.get("location")!}${patched.headers.get("location")!.includes("?") ? "&" : "?"}digest=${digest}`, { method: "PUT" });
      assert.equal(done.status, 201);
      assert.deepEqual(Buffer.from(await (await fetch(`${b.url}/v2/${name}/blobs/${digest}`)).arrayBuffer()), blob);
    } finally {
      await b.stop();
    }
  });

  it("cuts a body that sends nothing for the idle timeout", async () => {
    const { logger, lines } = capturingLogger();
    const b = await startBerth({ ...SMALL, BERTH_MIN_TRANSFER_RATE: "0" }, { logger });
    try {
      const location = await startUpload(b.url, uniqueName("idle"));
      const client = await rawClient(b.host);
      client.write(requestHead("PATCH", location, 1000));
      const ms = await client.closed;
      assert.ok(ms >= 1500 && ms < 4000, `closed after ${ms} ms`);
      assert.equal(lines.find((l) => l.msg === "closed slow client")?.reason, "idle");
    } finally {
      await b.stop();
    }
  });

  it("lets a slow but steady upload above the rate complete", async () => {
    const b = await startBerth({ ...SMALL, BERTH_TRANSFER_RATE_WINDOW: "1s" });
    try {
      const name = uniqueName("steady");
      const location = await startUpload(b.url, name);
      const blob = randomBlob(8 * 1024);
      const client = await rawClient(b.host);
      client.write(requestHead("PATCH", location, blob.length));
      // 512 bytes every 200 ms: 2.5 KiB/s for about 3 s, three windows.
      assert.equal(await trickle(client, blob, 512, 200), blob.length);
      for (let i = 0; i < 50 && !client.received().includes("\r\n\r\n"); i++) await sleep(20);
      assert.match(client.received(), /^HTTP\/1\.1 202/);
      client.socket.destroy();
    } finally {
      await b.stop();
    }
  });

  it("logs a client hanging up mid-upload once, at info as 499 aborted, without a stack trace", async () => {
    const { logger, lines } = capturingLogger();
    const b = await startBerth({}, { logger });
    try {
      const location = await startUpload(b.url, uniqueName("hangup"));
      const client = await rawClient(b.host);
      client.write(requestHead("PATCH", location, 100_000) + "x".repeat(5000));
      await sleep(200);
      client.socket.resetAndDestroy();
      await sleep(300);
      const logged = lines.filter((l) => l.path === location && l.level !== "debug");
      assert.equal(logged.length, 1, JSON.stringify(logged));
      assert.equal(logged[0]!.level, "info");
      assert.equal(logged[0]!.status, 499);
      assert.equal(logged[0]!.aborted, true);
      assert.ok(!lines.some((l) => l.level === "error" || l.level === "warn"), JSON.stringify(lines.filter((l) => l.level !== "info" && l.level !== "debug")));
    } finally {
      await b.stop();
    }
  });

  it("never blames the client for a body the server holds back (a slow store): a stall on the server side is not a slow client", async () => {
    const { limits } = loadConfig({ env: { BERTH_DATA: "/nonexistent", BERTH_MIN_TRANSFER_RATE: "1KiB/s", BERTH_TRANSFER_RATE_WINDOW: "1s", BERTH_IDLE_TIMEOUT: "1s" } });
    const limiter = createRequestLimiter(limits, silentLogger);
    const server = createServer((req, res) => {
      const stop = limiter.watchBody(req, countRequestBytes(req));
      // The handler reads nothing for three windows, as a stalled object store would.
      setTimeout(async () => {
        let bytes = 0;
        for await (const chunk of req) bytes += (chunk as Buffer).length;
        stop();
        res.end(String(bytes));
      }, 3000);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const body = randomBlob(4 * 1024 * 1024);
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: "PUT", body: new Uint8Array(body) });
      assert.equal(await res.text(), String(body.length));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
