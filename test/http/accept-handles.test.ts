import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { rawClient, sleep } from "./limits-support.js";

const CONNECTIONS = 48;

// A client in its own process (our loop is kept busy): opens every connection at once, sends a
// request on each, prints "answered" once every one has its reply.
const CLIENT = `
const net = require("node:net");
const [port, n] = process.argv.slice(1).map(Number);
let answered = 0;
for (let i = 0; i < n; i++) {
  const s = net.connect(port, "127.0.0.1", () => {
    s.write("GET /v2/ HTTP/1.1\\r\\nHost: test\\r\\n\\r\\n");
  });
  let got = "";
  s.on("data", (c) => {
    got += c;
    if (got.startsWith("HTTP/1.1 200") && got.includes("\\r\\n\\r\\n")) { got = ""; if (++answered === n) { console.log("answered"); process.exit(0); } }
  });
  s.on("error", (e) => { console.log("error " + e.message); process.exit(1); });
}`;

/**
 * Turns of our event loop, each kept busy for 20 ms, from the server accepting the first of the
 * client's connections to accepting the last (all are open in the kernel at once); every request
 * must then be answered.
 */
async function turnsToAccept(berth: TestBerth): Promise<number> {
  let turns = 0;
  let accepted = 0;
  let firstAt = -1;
  let lastAt = -1;
  let done = false;
  const counter = () => {
    accepted += 1;
    if (accepted === 1) firstAt = turns;
    if (accepted === CONNECTIONS) lastAt = turns;
  };
  berth.berth.server.on("connection", counter);
  const busy = () => {
    const end = Date.now() + 20;
    while (Date.now() < end);
    turns += 1;
    if (!done) setImmediate(busy);
  };
  setImmediate(busy);
  const client = spawn(process.execPath, ["-e", CLIENT, berth.host.split(":")[1]!, String(CONNECTIONS)], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = "";
      client.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("answered")) resolve();
        if (out.includes("error")) reject(new Error(out));
      });
      client.once("exit", (code) => code !== 0 && reject(new Error(`client exited ${code}: ${out}`)));
    });
  } finally {
    done = true;
    berth.berth.server.off("connection", counter);
  }
  assert.equal(accepted, CONNECTIONS);
  return lastAt - firstAt;
}

test("a busy node accepts many new connections per event-loop turn, not one", async (t) => {
  await t.test("with the default 16 accept handles", async () => {
    const berth = await startBerth();
    try {
      const turns = await turnsToAccept(berth);
      assert.ok(turns <= 8, `${CONNECTIONS} waiting connections took ${turns} busy turns to accept`);
    } finally {
      await berth.stop();
    }
  });
  await t.test("with one handle (acceptHandles: 1), one connection per turn", async () => {
    const berth = await startBerth({ BERTH_ACCEPT_HANDLES: "1" });
    try {
      const turns = await turnsToAccept(berth);
      assert.ok(turns >= CONNECTIONS - 8, `expected about one accept per turn, took only ${turns} turns`);
    } finally {
      await berth.stop();
    }
  });
});

test("connections on the extra handles get the same limits and shutdown", async () => {
  const berth = await startBerth({ BERTH_HEADER_TIMEOUT: "1s", BERTH_SHUTDOWN_TIMEOUT: "20s" });
  let stopped = false;
  try {
    const slow = await Promise.all(Array.from({ length: 24 }, () => rawClient(berth.host)));
    for (const c of slow) c.write("GET /v2/ HTTP/1.1\r\nHost: te");
    await Promise.all(slow.map((c) => c.closed));
    for (const c of slow) assert.match(c.received(), /^HTTP\/1\.1 408 /, "every half-sent request is answered 408, whichever handle accepted it");

    const idle = await Promise.all(Array.from({ length: 24 }, () => rawClient(berth.host)));
    for (const c of idle) c.write("GET /v2/ HTTP/1.1\r\nHost: test\r\n\r\n");
    while (idle.some((c) => !c.received().includes("\r\n\r\n"))) await sleep(20);
    const started = Date.now();
    await berth.stop();
    stopped = true;
    assert.ok(Date.now() - started < 10_000, "idle keep-alives on every handle are closed at shutdown, not waited for");
    await Promise.all(idle.map((c) => c.closed));
  } finally {
    if (!stopped) await berth.stop();
  }
});
