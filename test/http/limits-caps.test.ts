import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createTokenBuckets } from "../../src/http/limits.js";
import { startBerth } from "../helpers/berth.js";
import { uniqueName } from "./client.js";
import { rawClient, requestHead, sleep, trickle } from "./limits-support.js";

describe("limits: caps answer 429 with Retry-After, never hang", () => {
  it("answers a connection beyond limits.maxConnections with a bare 429 and closes it; a freed slot is usable again", async () => {
    const b = await startBerth({ BERTH_MAX_CONNECTIONS: "2" });
    try {
      const held = [await rawClient(b.host), await rawClient(b.host)];
      await sleep(50);
      const extra = await rawClient(b.host);
      extra.write("GET /v2/ HTTP/1.1\r\nHost: berth\r\n\r\n");
      await extra.closed;
      assert.match(extra.received(), /^HTTP\/1\.1 429 Too Many Requests\r\n/);
      assert.match(extra.received(), /\r\nRetry-After: 1\r\n/);
      held[0]!.socket.destroy();
      await held[0]!.closed;
      await sleep(50);
      const again = await rawClient(b.host);
      again.write("GET /v2/ HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n");
      await again.closed;
      assert.match(again.received(), /^HTTP\/1\.1 200/);
      held[1]!.socket.destroy();
    } finally {
      await b.stop();
    }
  });

  it("refuses a new upload with 429 TOOMANYREQUESTS while limits.maxUploads bodies are in flight, lets the running one finish", async () => {
    const b = await startBerth({ BERTH_MAX_UPLOADS: "1" });
    try {
      const name = uniqueName("cap");
      const started = await fetch(`${b.url}/v2/${name}/blobs/uploads/`, { method: "POST" });
      assert.equal(started.status, 202);
      const location = started.headers.get("location")!;
      const client = await rawClient(b.host);
      client.write(requestHead("PATCH", location, 10) + "12345");
      await sleep(100);
      const refused = await fetch(`${b.url}/v2/${name}/blobs/uploads/`, { method: "POST" });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get("retry-after"), "1");
      assert.equal(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code, "TOOMANYREQUESTS");
      client.write("67890");
      for (let i = 0; i < 50 && !client.received().includes("\r\n\r\n"); i++) await sleep(20);
      assert.match(client.received(), /^HTTP\/1\.1 202/);
      client.socket.destroy();
      await sleep(50);
      assert.equal((await fetch(`${b.url}/v2/${name}/blobs/uploads/`, { method: "POST" })).status, 202);
    } finally {
      await b.stop();
    }
  });

  it("limits requests per address with a token bucket: 429 TOOMANYREQUESTS with Retry-After, health checks exempt", async () => {
    const b = await startBerth({ BERTH_RATE_PER_ADDRESS: "2/s", BERTH_RATE_BURST: "3" });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${b.url}/v2/`)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      const refused = await fetch(`${b.url}/v2/`);
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get("retry-after")) >= 1);
      assert.equal(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code, "TOOMANYREQUESTS");
      assert.equal((await fetch(`${b.url}/healthz`)).status, 200);
      assert.match(await (await fetch(`${b.url}/metrics`)).text(), /^berth_http_limited_total\{limit="rate_address"\} 2$/m);
      await sleep(600);
      assert.equal((await fetch(`${b.url}/v2/`)).status, 200);
    } finally {
      await b.stop();
    }
  });

  it("limits requests per signed-in user; anonymous callers are not counted against a user", async () => {
    const b = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password", BERTH_RATE_PER_USER: "1/s", BERTH_RATE_BURST: "2" });
    try {
      const basic = { Authorization: `Basic ${Buffer.from("admin:admin-password").toString("base64")}` };
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${b.url}/v2/`, { headers: basic })).status);
      assert.deepEqual(statuses, [200, 200, 429]);
      assert.equal((await fetch(`${b.url}/v2/`)).status, 401);
    } finally {
      await b.stop();
    }
  });

  it("keeps at most maxKeys rate buckets, dropping full (idle) ones first", () => {
    let now = 0;
    const buckets = createTokenBuckets(10, 1, 100, () => now);
    for (let i = 0; i < 1000; i++) assert.equal(buckets.take(`10.0.${i >> 8}.${i & 255}`), 0);
    assert.ok(buckets.size <= 100, `${buckets.size} buckets`);
    assert.ok(buckets.take("10.0.3.231") > 0, "a busy address stays limited");
    now += 1000;
    buckets.take("192.0.2.1");
    assert.ok(buckets.size <= 100);
  });

  it("shuts down within shutdown.timeout with a client trickling an upload and an idle keep-alive connected", async () => {
    const b = await startBerth({ BERTH_SHUTDOWN_TIMEOUT: "1s", BERTH_MIN_TRANSFER_RATE: "0", BERTH_IDLE_TIMEOUT: "0" });
    const name = uniqueName("drain");
    const location = (await fetch(`${b.url}/v2/${name}/blobs/uploads/`, { method: "POST" })).headers.get("location")!;
    const slow = await rawClient(b.host);
    slow.write(requestHead("PATCH", location, 100_000));
    const trickling = trickle(slow, Buffer.alloc(100_000), 1, 100);
    const slowHeaders = await rawClient(b.host);
    const tricklingHeaders = trickle(slowHeaders, "GET /v2/ HTTP/1.1\r\nHost: berth\r\nX-Slow: " + "a".repeat(1000), 1, 100);
    const idle = await rawClient(b.host);
    idle.write("GET /v2/ HTTP/1.1\r\nHost: berth\r\n\r\n");
    await sleep(300);
    const t0 = Date.now();
    await b.stop();
    const ms = Date.now() - t0;
    assert.ok(ms < 2500, `stopped after ${ms} ms`);
    await Promise.all([slow.closed, slowHeaders.closed, idle.closed, trickling, tricklingHeaders]);
  });
});
