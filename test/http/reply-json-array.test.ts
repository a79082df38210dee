import assert from "node:assert/strict";
import { createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
import { it } from "node:test";
import { replyJsonArray } from "../../src/http/respond.js";

/**
 * A streamed listing to a client slower than the server: the whole array arrives, and waiting for
 * the socket to drain again and again leaves no listeners behind (Node warned "possible
 * EventEmitter memory leak" into the server's log on a 100,000-repository listing).
 */
it("replyJsonArray streams 200,000 entries to a slow reader whole, without piling up listeners", async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on("warning", onWarning);
  async function* entries() {
    for (let i = 0; i < 200_000; i++) yield { name: `team-${i % 500}/svc-${String(i).padStart(6, "0")}`, tags: i % 7, manifests: i % 5 };
  }
  const server = createServer((req, res) => void replyJsonArray(res, entries()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const body = await new Promise<string>((resolve, reject) => {
      get(`http://127.0.0.1:${port}/`, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => {
          chunks.push(c);
          // Read slowly, so the server's writes back up and it waits for drain many times.
          res.pause();
          setTimeout(() => res.resume(), 1);
        });
        res.on("end", () => resolve(Buffer.concat(chunks).toString()));
        res.on("error", reject);
      }).on("error", reject);
    });
    const parsed = JSON.parse(body) as { name: string }[];
    assert.equal(parsed.length, 200_000);
    assert.equal(parsed[199_999]!.name, "team-499/svc-199999");
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w.includes("MaxListeners")), []);
  } finally {
    process.off("warning", onWarning);
    server.close();
  }
});
