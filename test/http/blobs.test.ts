import assert from "node:assert/strict";
import { readdir, readlink } from "node:fs/promises";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, MT, assertError, digestOf, makeImage, randomBlob, uniqueName } from "./client.js";

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

describe("blobs: GET and HEAD", () => {
  let b: TestBerth;
  let c: Client;
  const name = "blobs/read";
  const bytes = randomBlob(1000);
  /** Larger than one read chunk (1 MiB), and not a multiple of it. */
  const large = randomBlob(6 * 1024 * 1024 + 4321);
  let digest: string;
  let largeDigest: string;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
    digest = await c.pushBlob(name, bytes);
    largeDigest = await c.pushBlob(name, large);
  });
  after(() => b.stop());

  it("GET /v2/<name>/blobs/<digest> serves the exact bytes with digest, length, type and Accept-Ranges", async () => {
    const res = await c.get(`/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, bytes);
    assert.equal(res.headers.get("docker-content-digest"), digest);
    assert.equal(res.headers.get("content-length"), String(bytes.length));
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.equal(res.headers.get("accept-ranges"), "bytes");
  });

  it("HEAD /v2/<name>/blobs/<digest> answers the same headers and no body", async () => {
    const res = await c.head(`/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers.get("docker-content-digest"), digest);
    assert.equal(res.headers.get("content-length"), String(bytes.length));
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.equal(res.headers.get("accept-ranges"), "bytes");
  });

  it("GET /v2/<name>/blobs/<digest> answers 404 BLOB_UNKNOWN for a digest never pushed", async () => {
    const unknown = digestOf(randomBlob());
    const err = assertError(await c.get(`/v2/${name}/blobs/${unknown}`), 404, "BLOB_UNKNOWN");
    assert.equal(err.detail?.digest, unknown);
    assert.equal((await c.head(`/v2/${name}/blobs/${unknown}`)).status, 404);
  });

  it("GET /v2/<name>/blobs/<digest> answers 404 BLOB_UNKNOWN in another repository", async () => {
    assertError(await c.get(`/v2/blobs/other/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    assert.equal((await c.head(`/v2/blobs/other/blobs/${digest}`)).status, 404);
    // nor in a repository that is a prefix of the one holding it
    assertError(await c.get(`/v2/blobs/blobs/${digest}`), 404, "BLOB_UNKNOWN");
  });

  it("GET /v2/<name>/blobs/<digest> with Range: bytes=0-9 answers 206 with those bytes", async () => {
    const res = await c.get(`/v2/${name}/blobs/${digest}`, { Range: "bytes=0-9" });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), `bytes 0-9/${bytes.length}`);
    assert.equal(res.headers.get("content-length"), "10");
    assert.deepEqual(res.body, bytes.subarray(0, 10));
  });

  it("GET /v2/<name>/blobs/<digest> with a middle Range answers 206 with those bytes", async () => {
    const res = await c.get(`/v2/${name}/blobs/${digest}`, { Range: "bytes=100-299" });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), `bytes 100-299/${bytes.length}`);
    assert.deepEqual(res.body, bytes.subarray(100, 300));
  });

  it("GET /v2/<name>/blobs/<digest> with a suffix Range bytes=-5 answers the last 5 bytes", async () => {
    const res = await c.get(`/v2/${name}/blobs/${digest}`, { Range: "bytes=-5" });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), `bytes ${bytes.length - 5}-${bytes.length - 1}/${bytes.length}`);
    assert.deepEqual(res.body, bytes.subarray(bytes.length - 5));
  });

  it("GET /v2/<name>/blobs/<digest> with an open-ended Range bytes=10- answers from byte 10 to the end", async () => {
    const res = await c.get(`/v2/${name}/blobs/${digest}`, { Range: "bytes=10-" });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), `bytes 10-${bytes.length - 1}/${bytes.length}`);
    assert.equal(res.headers.get("content-length"), String(bytes.length - 10));
    assert.deepEqual(res.body, bytes.subarray(10));
  });

  it("GET /v2/<name>/blobs/<digest> with a Range ending past the blob answers up to the last byte", async () => {
    const res = await c.get(`/v2/${name}/blobs/${digest}`, { Range: `bytes=990-5000` });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), `bytes 990-999/${bytes.length}`);
    assert.deepEqual(res.body, bytes.subarray(990));
  });

  it("GET /v2/<name>/blobs/<digest> with Range starting at the size answers 416 RANGE_INVALID", async () => {
    const res = await c.get(`/v2/${name}/blobs/${digest}`, { Range: `bytes=${bytes.length}-` });
    assertError(res, 416, "RANGE_INVALID");
    assert.equal(res.headers.get("content-range"), `bytes */${bytes.length}`);
  });

  it("concurrent GETs each receive every byte, whole and by ranges crossing 1 MiB boundaries", async () => {
    const ranges: Array<[number, number] | undefined> = [undefined, [1048570, 2097160], [5, 4 * 1048576], undefined, [large.length - 10, large.length - 1]];
    const answers = await Promise.all(ranges.map((r) =>
      c.get(`/v2/${name}/blobs/${largeDigest}`, r ? { Range: `bytes=${r[0]}-${r[1]}` } : undefined)));
    answers.forEach((res, i) => {
      const r = ranges[i];
      assert.equal(res.status, r ? 206 : 200);
      assert.ok(res.body.equals(r ? large.subarray(r[0], r[1] + 1) : large), `answer ${i} has the right bytes`);
    });
  });

  it("clients hanging up mid-blob leave no file open and the next pull whole", async () => {
    await Promise.all(Array.from({ length: 8 }, () => abandonedGet(b.url, `/v2/${name}/blobs/${largeDigest}`)));
    let open = await openBlobFiles();
    for (let i = 0; i < 50 && open > 0; i++) {
      await sleep(20);
      open = await openBlobFiles();
    }
    assert.equal(open, 0, "every blob file the abandoned pulls opened is closed");
    const res = await c.get(`/v2/${name}/blobs/${largeDigest}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(large));
  });
});

describe("blobs: DELETE", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("DELETE /v2/<name>/blobs/<digest> answers 202 and the blob is then 404 BLOB_UNKNOWN", async () => {
    const name = uniqueName("del");
    const digest = await c.pushBlob(name, randomBlob());
    const res = await c.delete(`/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 202, res.text());
    assertError(await c.get(`/v2/${name}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    assert.equal((await c.head(`/v2/${name}/blobs/${digest}`)).status, 404);
  });

  it("DELETE /v2/<name>/blobs/<digest> answers 404 BLOB_UNKNOWN for an unknown blob and a second delete", async () => {
    const name = uniqueName("del");
    assertError(await c.delete(`/v2/${name}/blobs/${digestOf(randomBlob())}`), 404, "BLOB_UNKNOWN");
    const digest = await c.pushBlob(name, randomBlob());
    assert.equal((await c.delete(`/v2/${name}/blobs/${digest}`)).status, 202);
    assertError(await c.delete(`/v2/${name}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
  });

  it("DELETE /v2/<name>/blobs/<digest> in one repository leaves the same bytes served in another", async () => {
    const bytes = randomBlob(4096);
    const one = uniqueName("shared");
    const two = uniqueName("shared");
    const digest = await c.pushBlob(one, bytes);
    await c.pushBlob(two, bytes);
    assert.deepEqual((await c.get(`/v2/${one}/blobs/${digest}`)).body, bytes);
    assert.deepEqual((await c.get(`/v2/${two}/blobs/${digest}`)).body, bytes);
    assert.equal((await c.delete(`/v2/${one}/blobs/${digest}`)).status, 202);
    assertError(await c.get(`/v2/${one}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    const still = await c.get(`/v2/${two}/blobs/${digest}`);
    assert.equal(still.status, 200);
    assert.deepEqual(still.body, bytes);
  });

  it("DELETE /v2/<name>/blobs/<digest> of a layer makes a later manifest push naming it fail with MANIFEST_BLOB_UNKNOWN", async () => {
    const name = uniqueName("dangling");
    const image = makeImage();
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    assert.equal((await c.delete(`/v2/${name}/blobs/${image.layers[0]!.digest}`)).status, 202);
    const res = await c.putManifest(name, "v1", image.manifest, MT.ociManifest);
    const err = assertError(res, 400, "MANIFEST_BLOB_UNKNOWN");
    assert.equal(err.detail?.digest, image.layers[0]!.digest);
  });

  it("DELETE /v2/<name>/blobs/<digest> of a layer a stored manifest uses answers 403 DENIED and the image stays whole", async () => {
    const name = uniqueName("inuse");
    const image = makeImage();
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    assert.equal((await c.putManifest(name, "v1", image.manifest, MT.ociManifest)).status, 201);
    const err = assertError(await c.delete(`/v2/${name}/blobs/${image.layers[0]!.digest}`), 403, "DENIED");
    assert.match(err.message, /manifest/);
    assert.equal((await c.get(`/v2/${name}/blobs/${image.layers[0]!.digest}`)).status, 200);
    assert.equal((await c.delete(`/v2/${name}/manifests/${digestOf(image.manifest)}`)).status, 202);
    assert.equal((await c.delete(`/v2/${name}/blobs/${image.layers[0]!.digest}`)).status, 202, "free once the manifest is gone");
  });

  it("DELETE /v2/<name>/blobs/<digest> then pushing the bytes again serves them again", async () => {
    const name = uniqueName("repush");
    const bytes = randomBlob(500);
    const digest = await c.pushBlob(name, bytes);
    assert.equal((await c.delete(`/v2/${name}/blobs/${digest}`)).status, 202);
    await c.pushBlob(name, bytes);
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digest}`)).body, bytes);
  });
});

describe("blobs: DELETE with deletion disabled", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth({ BERTH_DELETE_ENABLED: "false" });
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("DELETE /v2/<name>/blobs/<digest> answers 405 UNSUPPORTED and the blob stays", async () => {
    const name = uniqueName("keep");
    const bytes = randomBlob();
    const digest = await c.pushBlob(name, bytes);
    assertError(await c.delete(`/v2/${name}/blobs/${digest}`), 405, "UNSUPPORTED");
    const res = await c.get(`/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, bytes);
  });
});
