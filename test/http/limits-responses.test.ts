import assert from "node:assert/strict";
import { readdirSync, readlinkSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { createRequestLimiter } from "../../src/http/limits.js";
import { silentLogger } from "../../src/logger.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { digestOf, randomBlob, uniqueName } from "./client.js";
import { capturingLogger, rawClient, sleep } from "./limits-support.js";

/** Cut a response reader taking nothing for 2 s, or under 1 KiB/s over 2 s. */
const SMALL = { BERTH_MIN_TRANSFER_RATE: "1KiB/s", BERTH_TRANSFER_RATE_WINDOW: "2s", BERTH_IDLE_TIMEOUT: "2s" };
/** Larger than what loopback's socket buffers and the server's own buffers hold together. */
const BIG = 24 * 1024 * 1024;
const onS3 = process.env.BERTH_TEST_BACKEND === "s3-postgres";

async function pushBlob(b: TestBerth, name: string, blob: Buffer): Promise<string> {
  const digest = digestOf(blob);
  const post = await fetch(`${b.url}/v2/${name}/blobs/uploads/`, { method: "POST" });
  assert.equal(post.status, 202);
  const location = new URL(post.headers.get("location")!, b.url);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body: new Uint8Array(blob) });
  assert.equal(put.status, 201);
  return digest;
}

/** This process's descriptors open on blob files under `dir` (the server runs in it), not the database's. */
function filesOpenUnder(dir: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir) && !target.includes("berth.db")) n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

const blobRequest = (name: string, digest: string) => `GET /v2/${name}/blobs/${digest} HTTP/1.1\r\nHost: berth\r\n\r\n`;

describe("limits: slow response readers", { timeout: 60_000 }, () => {
  it("cuts a client that stops reading a blob (its receive window closed) within the window, closing the blob file", async () => {
    const { logger, lines } = capturingLogger();
    const b = await startBerth(SMALL, { logger });
    try {
      const name = uniqueName("stalled");
      const blob = randomBlob(BIG);
      const digest = await pushBlob(b, name, blob);
      const client = await rawClient(b.host);
      let received = 0;
      const stall = (chunk: Buffer) => {
        received += chunk.length;
        client.socket.pause();
      };
      client.socket.on("data", stall);
      const started = Date.now();
      client.write(blobRequest(name, digest));
      let cutAt: number | undefined;
      let openWhileStalled = 0;
      while (Date.now() - started < 8000 && cutAt === undefined) {
        await sleep(50);
        openWhileStalled = Math.max(openWhileStalled, filesOpenUnder(b.data));
        if (lines.some((l) => l.msg === "closed slow client")) cutAt = Date.now() - started;
      }
      assert.ok(cutAt !== undefined, "the stalled reader was never cut");
      // 2 s idle timeout (and the 2 s rate window), checked every 200 ms, after the buffers filled.
      assert.ok(cutAt >= 1800 && cutAt < 4000, `cut after ${cutAt} ms`);
      // On the embedded default the blob is a file under the data directory; on S3 (this suite's
      // second run) it is a stream from the object store, and the S3 suite checks its sockets.
      if (!onS3) {
        assert.ok(openWhileStalled >= 1, "the blob file was open while the client stalled");
        for (let i = 0; i < 20 && filesOpenUnder(b.data) > 0; i++) await sleep(50);
        assert.equal(filesOpenUnder(b.data), 0, "the blob file is closed once the reader is cut");
      }
      const cut = lines.find((l) => l.msg === "closed slow client")!;
      assert.equal(cut.level, "info");
      assert.match(String(cut.reason), /^response (idle|below minimum transfer rate)$/);
      assert.equal(cut.path, `/v2/${name}/blobs/${digest}`);
      assert.ok(!lines.some((l) => l.level === "error" || l.level === "warn"), "a slow reader is no server error");
      assert.match(await (await fetch(`${b.url}/metrics`)).text(), /^berth_http_limited_total\{limit="(idle|slow)_response"\} 1$/m);

      client.socket.off("data", stall);
      client.socket.on("data", (chunk: Buffer) => void (received += chunk.length));
      client.socket.resume();
      await client.closed;
      assert.ok(received < BIG, `the cut client got ${received} of ${BIG} bytes`);
    } finally {
      await b.stop();
    }
  });

  it("lets a full-speed download and a slow but steady reader above the rate finish", async () => {
    // 256 KiB/s over 2 s: the paced reader below takes 4 MB/s. Progress is what the kernel takes
    // from the socket, which on loopback moves in steps of up to half its send buffer (~2 MiB).
    const { logger, lines } = capturingLogger();
    const b = await startBerth({ ...SMALL, BERTH_MIN_TRANSFER_RATE: "256KiB/s" }, { logger });
    try {
      const name = uniqueName("steady");
      const blob = randomBlob(BIG);
      const digest = await pushBlob(b, name, blob);
      const res = await fetch(`${b.url}/v2/${name}/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.equal(digestOf(Buffer.from(await res.arrayBuffer())), digest);

      const small = randomBlob(16 * 1024 * 1024);
      const smallDigest = await pushBlob(b, name, small);
      const client = await rawClient(b.host);
      const parts: Buffer[] = [];
      let taken = 0;
      const started = Date.now();
      // Paused whenever ahead of 4 MB/s: a steady link, slower than the window several times over.
      client.socket.on("data", (chunk: Buffer) => {
        parts.push(chunk);
        taken += chunk.length;
        const ahead = taken / 4000 - (Date.now() - started);
        if (ahead > 0) {
          client.socket.pause();
          setTimeout(() => client.socket.resume(), ahead);
        }
      });
      client.write(blobRequest(name, smallDigest));
      const whole = () => Buffer.concat(parts);
      while (!whole().includes(small.subarray(small.length - 64)) && Date.now() - started < 20_000 && !client.socket.destroyed) await sleep(100);
      const text = whole();
      const body = text.subarray(text.indexOf("\r\n\r\n") + 4);
      assert.equal(body.length, small.length, `got ${body.length} of ${small.length} bytes in ${Date.now() - started} ms ${JSON.stringify(lines.filter((l) => l.msg === "closed slow client"))}`);
      assert.ok(Date.now() - started > 3000, "the reader was slower than the window, several times over");
      assert.ok(body.equals(small));
      assert.doesNotMatch(await (await fetch(`${b.url}/metrics`)).text(), /_response"\}/);
      client.socket.destroy();
    } finally {
      await b.stop();
    }
  });

  it("never blames the client for a response the server is slow to produce", async () => {
    const { limits } = loadConfig({ env: { BERTH_DATA: "/nonexistent", BERTH_MIN_TRANSFER_RATE: "1KiB/s", BERTH_TRANSFER_RATE_WINDOW: "1s", BERTH_IDLE_TIMEOUT: "1s" } });
    const limiter = createRequestLimiter(limits, silentLogger);
    const server = createServer(async (req, res) => {
      limiter.watchResponse(res);
      // A stalled store: one piece, nothing for three windows, then the rest.
      res.write(Buffer.alloc(1024, 1));
      await sleep(3000);
      res.end(Buffer.alloc(1024, 2));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal((await res.arrayBuffer()).byteLength, 2048);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
