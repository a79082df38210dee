import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, assertError, digestOf, locationPath, randomBlob, uniqueName } from "./client.js";

const EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

describe("uploads: sha512, empty and large blobs", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("POST /v2/<name>/blobs/uploads/?digest-algorithm=sha512, PATCH, PUT ?digest=sha512: answers 201 and serves the blob", async () => {
    const name = uniqueName("sha512");
    const bytes = randomBlob(3000);
    const digest = digestOf(bytes, "sha512");
    const location = await c.startUpload(name, "?digest-algorithm=sha512");
    assert.equal((await c.patch(location, bytes.subarray(0, 1000), 0)).status, 202);
    assert.equal((await c.patch(location, bytes.subarray(1000), 1000)).status, 202);
    const done = await c.request("PUT", `${location}?digest=${digest}`);
    assert.equal(done.status, 201, done.text());
    assert.equal(done.headers.get("docker-content-digest"), digest);
    assert.equal(locationPath(done, b.url), `/v2/${name}/blobs/${digest}`);
    const res = await c.get(`/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-content-digest"), digest);
    assert.deepEqual(res.body, bytes);
  });

  it("PUT /v2/<name>/blobs/uploads/<id>?digest=sha512: with a wrong sha512 answers 400 DIGEST_INVALID", async () => {
    const name = uniqueName("sha512-bad");
    const location = await c.startUpload(name, "?digest-algorithm=sha512");
    await c.patch(location, randomBlob(100), 0);
    const wrong = digestOf(randomBlob(100), "sha512");
    assertError(await c.request("PUT", `${location}?digest=${wrong}`), 400, "DIGEST_INVALID");
    assertError(await c.get(`/v2/${name}/blobs/${wrong}`), 404, "BLOB_UNKNOWN");
  });

  it("POST /v2/<name>/blobs/uploads/?digest=sha512: pushes a whole blob addressed by sha512", async () => {
    const name = uniqueName("sha512-mono");
    const bytes = randomBlob(512);
    const digest = digestOf(bytes, "sha512");
    const res = await c.request("POST", `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: bytes });
    assert.equal(res.status, 201, res.text());
    assert.equal(res.headers.get("docker-content-digest"), digest);
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digest}`)).body, bytes);
    // the sha256 of the same bytes was never pushed as such
    assertError(await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`), 404, "BLOB_UNKNOWN");
  });

  it("POST /v2/<name>/blobs/uploads/?digest-algorithm=md5 answers 400 DIGEST_INVALID", async () => {
    assertError(await c.request("POST", `/v2/${uniqueName("md5")}/blobs/uploads/?digest-algorithm=md5`), 400, "DIGEST_INVALID");
  });

  it("POST /v2/<name>/blobs/uploads/?digest=<sha256 of nothing> pushes a zero-byte blob that reads back empty", async () => {
    const name = uniqueName("empty");
    assert.equal(digestOf(Buffer.alloc(0)), EMPTY_SHA256);
    const res = await c.request("POST", `/v2/${name}/blobs/uploads/?digest=${EMPTY_SHA256}`, { body: Buffer.alloc(0) });
    assert.equal(res.status, 201, res.text());
    const got = await c.get(`/v2/${name}/blobs/${EMPTY_SHA256}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("content-length"), "0");
    assert.equal(got.body.length, 0);
    const head = await c.head(`/v2/${name}/blobs/${EMPTY_SHA256}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "0");
  });

  it("PUT /v2/<name>/blobs/uploads/<id>?digest=<sha256 of nothing> completes an empty session", async () => {
    const name = uniqueName("empty-session");
    const location = await c.startUpload(name);
    const done = await c.request("PUT", `${location}?digest=${EMPTY_SHA256}`);
    assert.equal(done.status, 201, done.text());
    const got = await c.get(`/v2/${name}/blobs/${EMPTY_SHA256}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("content-length"), "0");
  });

  it("PATCH /v2/<name>/blobs/uploads/<id> in 4 chunks of 5 MiB round-trips a 20 MiB blob byte-exact", async () => {
    const name = uniqueName("large");
    const chunk = 5 * 1024 * 1024;
    const bytes = randomBlob(4 * chunk);
    const digest = digestOf(bytes);
    const location = await c.startUpload(name);
    for (let i = 0; i < 4; i++) {
      const res = await c.patch(location, bytes.subarray(i * chunk, (i + 1) * chunk), i * chunk);
      assert.equal(res.status, 202, res.text());
      assert.equal(res.headers.get("range"), `0-${(i + 1) * chunk - 1}`);
    }
    const done = await c.request("PUT", `${location}?digest=${digest}`);
    assert.equal(done.status, 201, done.text());
    const got = await c.get(`/v2/${name}/blobs/${digest}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("content-length"), String(bytes.length));
    assert.equal(got.body.length, bytes.length);
    assert.equal(createHash("sha256").update(got.body).digest("hex"), digest.slice("sha256:".length));
    const tail = await c.get(`/v2/${name}/blobs/${digest}`, { Range: `bytes=${3 * chunk - 7}-${3 * chunk + 6}` });
    assert.equal(tail.status, 206);
    assert.deepEqual(tail.body, bytes.subarray(3 * chunk - 7, 3 * chunk + 7));
  });
});

describe("uploads: cross-repository mount (anonymous mount on, the default)", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("POST /v2/<name>/blobs/uploads/?mount=&from= answers 201 and the blob becomes readable in the target", async () => {
    const source = uniqueName("src");
    const target = uniqueName("dst");
    const bytes = randomBlob(900);
    const digest = await c.pushBlob(source, bytes);
    assertError(await c.get(`/v2/${target}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    const res = await c.request("POST", `/v2/${target}/blobs/uploads/?mount=${digest}&from=${source}`);
    assert.equal(res.status, 201, res.text());
    assert.equal(locationPath(res, b.url), `/v2/${target}/blobs/${digest}`);
    assert.equal(res.headers.get("docker-content-digest"), digest);
    const got = await c.get(`/v2/${target}/blobs/${digest}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, bytes);
  });

  it("POST /v2/<name>/blobs/uploads/?mount= without from answers 201 when the registry holds the blob", async () => {
    const bytes = randomBlob(123);
    const digest = await c.pushBlob(uniqueName("holder"), bytes);
    const target = uniqueName("anon");
    const res = await c.request("POST", `/v2/${target}/blobs/uploads/?mount=${digest}`);
    assert.equal(res.status, 201, res.text());
    assert.equal(locationPath(res, b.url), `/v2/${target}/blobs/${digest}`);
    assert.deepEqual((await c.get(`/v2/${target}/blobs/${digest}`)).body, bytes);
  });

  it("POST /v2/<name>/blobs/uploads/?mount= of a digest nobody has answers 202 with a usable upload session", async () => {
    const target = uniqueName("fresh");
    const bytes = randomBlob(222);
    const digest = digestOf(bytes);
    const res = await c.request("POST", `/v2/${target}/blobs/uploads/?mount=${digest}&from=${uniqueName("empty")}`);
    assert.equal(res.status, 202, res.text());
    const location = locationPath(res, b.url);
    assert.ok(location.startsWith(`/v2/${target}/blobs/uploads/`), location);
    assertError(await c.get(`/v2/${target}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    const done = await c.request("PUT", `${location}?digest=${digest}`, { body: bytes });
    assert.equal(done.status, 201, done.text());
    assert.deepEqual((await c.get(`/v2/${target}/blobs/${digest}`)).body, bytes);
  });
});

describe("uploads: cross-repository mount with anonymous mount off", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth({ BERTH_ANONYMOUS_MOUNT: "false" });
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("POST /v2/<name>/blobs/uploads/?mount=&from= still mounts from a repository holding the blob", async () => {
    const source = uniqueName("src");
    const target = uniqueName("dst");
    const bytes = randomBlob(64);
    const digest = await c.pushBlob(source, bytes);
    const res = await c.request("POST", `/v2/${target}/blobs/uploads/?mount=${digest}&from=${source}`);
    assert.equal(res.status, 201, res.text());
    assert.deepEqual((await c.get(`/v2/${target}/blobs/${digest}`)).body, bytes);
  });

  it("POST /v2/<name>/blobs/uploads/?mount=&from=<repo lacking it> answers 202 with a session that completes", async () => {
    const bytes = randomBlob(400);
    const digest = await c.pushBlob(uniqueName("elsewhere"), bytes);
    const lacking = uniqueName("lacking");
    await c.pushBlob(lacking, randomBlob(10));
    const target = uniqueName("dst");
    const res = await c.request("POST", `/v2/${target}/blobs/uploads/?mount=${digest}&from=${lacking}`);
    assert.equal(res.status, 202, res.text());
    const location = locationPath(res, b.url);
    assert.ok(location.startsWith(`/v2/${target}/blobs/uploads/`), location);
    assert.ok(res.headers.get("docker-upload-uuid"));
    assertError(await c.get(`/v2/${target}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    assert.equal((await c.patch(location, bytes, 0)).status, 202);
    const done = await c.request("PUT", `${location}?digest=${digest}`);
    assert.equal(done.status, 201, done.text());
    assert.deepEqual((await c.get(`/v2/${target}/blobs/${digest}`)).body, bytes);
  });

  it("POST /v2/<name>/blobs/uploads/?mount= without from answers 202 even though the registry holds the blob", async () => {
    const digest = await c.pushBlob(uniqueName("holder"), randomBlob(77));
    const target = uniqueName("anon");
    const res = await c.request("POST", `/v2/${target}/blobs/uploads/?mount=${digest}`);
    assert.equal(res.status, 202, res.text());
    assert.ok(locationPath(res, b.url).startsWith(`/v2/${target}/blobs/uploads/`));
    assertError(await c.get(`/v2/${target}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
  });
});

describe("uploads: concurrent pushes", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("POST /v2/<name>/blobs/uploads/?digest= of the same bytes in parallel, to one and to several repositories, all answer 201", async () => {
    const bytes = randomBlob(256 * 1024);
    const digest = digestOf(bytes);
    const names = [uniqueName("par"), uniqueName("par"), uniqueName("par")];
    const targets = [...names, ...names];
    const results = await Promise.all(
      targets.map((name) => c.request("POST", `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: bytes })),
    );
    for (const [i, res] of results.entries()) assert.equal(res.status, 201, `${targets[i]}: ${res.status} ${res.text()}`);
    for (const name of names) assert.deepEqual((await c.get(`/v2/${name}/blobs/${digest}`)).body, bytes);
  });

  it("PATCH /v2/<name>/blobs/uploads/<id> of two sessions in parallel keeps each session's bytes apart", async () => {
    const name = uniqueName("twins");
    const [one, two] = [randomBlob(100_000), randomBlob(100_000)];
    const [l1, l2] = await Promise.all([c.startUpload(name), c.startUpload(name)]);
    const patched = await Promise.all([c.patch(l1, one, 0), c.patch(l2, two, 0)]);
    for (const res of patched) assert.equal(res.status, 202, res.text());
    const done = await Promise.all([
      c.request("PUT", `${l1}?digest=${digestOf(one)}`),
      c.request("PUT", `${l2}?digest=${digestOf(two)}`),
    ]);
    for (const res of done) assert.equal(res.status, 201, res.text());
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digestOf(one)}`)).body, one);
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digestOf(two)}`)).body, two);
  });
});

describe("uploads: expiry with BERTH_UPLOAD_EXPIRY=2s", () => {
  let b: TestBerth;
  let c: Client;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  before(async () => {
    b = await startBerth({ BERTH_UPLOAD_EXPIRY: "2s" });
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("GET /v2/<name>/blobs/uploads/<id> answers 404 BLOB_UPLOAD_UNKNOWN once the upload sat idle past the expiry", async () => {
    const name = uniqueName("idle");
    const bytes = randomBlob(100);
    const location = await c.startUpload(name);
    await c.patch(location, bytes, 0);
    await sleep(3000);
    assertError(await c.get(location), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.request("PUT", `${location}?digest=${digestOf(bytes)}`), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`), 404, "BLOB_UNKNOWN");
  });

  it("PATCH /v2/<name>/blobs/uploads/<id> keeps an active upload alive beyond the expiry", async () => {
    const name = uniqueName("busy");
    const bytes = randomBlob(400);
    const location = await c.startUpload(name);
    for (let i = 0; i < 4; i++) {
      const res = await c.patch(location, bytes.subarray(i * 100, (i + 1) * 100), i * 100);
      assert.equal(res.status, 202, `chunk ${i}: ${res.text()}`);
      await sleep(1000);
    }
    const done = await c.request("PUT", `${location}?digest=${digestOf(bytes)}`);
    assert.equal(done.status, 201, done.text());
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`)).body, bytes);
  });
});
