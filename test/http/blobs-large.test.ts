import assert from "node:assert/strict";
import { readdir, readlink } from "node:fs/promises";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, randomBlob } from "./client.js";

/** How many files under a blobs/ directory this process holds open. */
async function openBlobFiles(): Promise<number> {
  let n = 0;
  for (const fd of await readdir("/proc/self/fd")) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
    if (target.includes("/blobs/sha256/")) n++;
  }
  return n;
}

/** Starts a GET of `path`, reads its first bytes, then hangs up. */
function abandonedGet(url: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, (res) => {
      res.once("data", () => {
        req.destroy();
        resolve();
      });
    });
    req.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" ? resolve() : reject(err)));
    req.end();
  });
}

describe("blobs: pulls of blobs larger than one read chunk", () => {
  let b: TestBerth;
  let c: Client;
  const name = "blobs/large";
  const bytes = randomBlob(6 * 1024 * 1024 + 4321);
  let digest: string;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
    digest = await c.pushBlob(name, bytes);
  });
  after(() => b.stop());

  it("concurrent GETs each receive every byte, whole and by ranges crossing 1 MiB boundaries", async () => {
    const ranges: Array<[number, number] | undefined> = [undefined, [1048570, 2097160], [5, 4 * 1048576], undefined, [bytes.length - 10, bytes.length - 1]];
    const answers = await Promise.all(ranges.map((r) =>
      c.get(`/v2/${name}/blobs/${digest}`, r ? { Range: `bytes=${r[0]}-${r[1]}` } : undefined)));
    answers.forEach((res, i) => {
      const r = ranges[i];
      assert.equal(res.status, r ? 206 : 200);
      assert.ok(res.body.equals(r ? bytes.subarray(r[0], r[1] + 1) : bytes), `answer ${i} has the right bytes`);
    });
  });

  it("clients hanging up mid-blob leave no file open and the next pull whole", async () => {
    await Promise.all(Array.from({ length: 8 }, () => abandonedGet(b.url, `/v2/${name}/blobs/${digest}`)));
    let open = await openBlobFiles();
    for (let i = 0; i < 50 && open > 0; i++) {
      await sleep(20);
      open = await openBlobFiles();
    }
    assert.equal(open, 0, "every blob file the abandoned pulls opened is closed");
    const res = await c.get(`/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(bytes));
  });
});
