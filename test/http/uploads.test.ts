import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, assertError, digestOf, locationPath, randomBlob, uniqueName } from "./client.js";

const UUID_SEGMENT = /^[^/?]+$/;

/** A body sent with chunked transfer-encoding and no Content-Range, as Docker and podman stream layers. */
function streamOf(...chunks: Buffer[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[i++];
      if (next) controller.enqueue(new Uint8Array(next));
      else controller.close();
    },
  });
}

describe("uploads: monolithic and chunked", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("POST /v2/<name>/blobs/uploads/ answers 202 with Location, Docker-Upload-UUID and Range: 0-0", async () => {
    const name = uniqueName("start");
    const res = await c.request("POST", `/v2/${name}/blobs/uploads/`);
    assert.equal(res.status, 202, res.text());
    const path = locationPath(res, b.url);
    const prefix = `/v2/${name}/blobs/uploads/`;
    assert.ok(path.startsWith(prefix), path);
    const id = new URL(path, b.url).pathname.slice(prefix.length);
    assert.match(id, UUID_SEGMENT);
    assert.equal(res.headers.get("docker-upload-uuid"), id);
    assert.equal(res.headers.get("range"), "0-0");
    // two sessions never share an id
    const other = await c.request("POST", `/v2/${name}/blobs/uploads/`);
    assert.notEqual(other.headers.get("docker-upload-uuid"), id);
  });

  it("POST /v2/<name>/blobs/uploads/?digest= with a body answers 201 and the blob is served", async () => {
    const name = uniqueName("mono");
    const bytes = randomBlob(777);
    const digest = digestOf(bytes);
    const res = await c.request("POST", `/v2/${name}/blobs/uploads/?digest=${digest}`, {
      headers: { "Content-Type": "application/octet-stream" },
      body: bytes,
    });
    assert.equal(res.status, 201, res.text());
    assert.equal(locationPath(res, b.url), `/v2/${name}/blobs/${digest}`);
    assert.equal(res.headers.get("docker-content-digest"), digest);
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digest}`)).body, bytes);
  });

  it("POST /v2/<name>/blobs/uploads/?digest= rejects a wrong digest with 400 DIGEST_INVALID and serves nothing", async () => {
    const name = uniqueName("mono-bad");
    const bytes = randomBlob(300);
    const claimed = digestOf(randomBlob(300));
    const res = await c.request("POST", `/v2/${name}/blobs/uploads/?digest=${claimed}`, { body: bytes });
    assertError(res, 400, "DIGEST_INVALID");
    assertError(await c.get(`/v2/${name}/blobs/${claimed}`), 404, "BLOB_UNKNOWN");
    assertError(await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`), 404, "BLOB_UNKNOWN");
  });

  it("PATCH /v2/<name>/blobs/uploads/<id> with Content-Range appends chunks and reports Range", async () => {
    const name = uniqueName("chunks");
    const bytes = randomBlob(300);
    const location = await c.startUpload(name);
    const first = await c.patch(location, bytes.subarray(0, 100), 0);
    assert.equal(first.status, 202, first.text());
    assert.equal(first.headers.get("range"), "0-99");
    const next = locationPath(first, b.url);
    assert.ok(next.startsWith(`/v2/${name}/blobs/uploads/`), next);
    const second = await c.patch(next, bytes.subarray(100, 200), 100);
    assert.equal(second.status, 202, second.text());
    assert.equal(second.headers.get("range"), "0-199");
    const third = await c.patch(locationPath(second, b.url), bytes.subarray(200), 200);
    assert.equal(third.headers.get("range"), "0-299");
    const done = await c.request("PUT", `${locationPath(third, b.url)}?digest=${digestOf(bytes)}`);
    assert.equal(done.status, 201, done.text());
    assert.equal(locationPath(done, b.url), `/v2/${name}/blobs/${digestOf(bytes)}`);
    assert.equal(done.headers.get("docker-content-digest"), digestOf(bytes));
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`)).body, bytes);
  });

  it("PATCH /v2/<name>/blobs/uploads/<id> rejects a chunk not starting at the end with 416 and the upload survives", async () => {
    const name = uniqueName("gap");
    const bytes = randomBlob(300);
    const location = await c.startUpload(name);
    await c.patch(location, bytes.subarray(0, 100), 0);
    await c.patch(location, bytes.subarray(100, 200), 100);
    for (const start of [50, 300, 0]) {
      const res = await c.patch(location, randomBlob(100), start);
      assertError(res, 416, "RANGE_INVALID", `chunk at ${start}`);
      assert.equal(res.headers.get("range"), "0-199", `chunk at ${start}`);
    }
    const status = await c.get(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-199");
    assert.equal((await c.patch(location, bytes.subarray(200), 200)).status, 202);
    const done = await c.request("PUT", `${location}?digest=${digestOf(bytes)}`);
    assert.equal(done.status, 201, done.text());
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`)).body, bytes);
  });

  it("PATCH /v2/<name>/blobs/uploads/<id> answers 400 SIZE_INVALID when Content-Length disagrees with Content-Range", async () => {
    const location = await c.startUpload(uniqueName("size"));
    const res = await c.request("PATCH", location, {
      headers: { "Content-Range": "0-49", "Content-Length": "100" },
      body: randomBlob(100),
    });
    assertError(res, 400, "SIZE_INVALID");
    assert.equal((await c.get(location)).headers.get("range"), "0-0");
  });

  it("PATCH /v2/<name>/blobs/uploads/<id> answers 416 RANGE_INVALID for a malformed Content-Range", async () => {
    const location = await c.startUpload(uniqueName("badrange"));
    for (const range of ["abc", "10-5", "-5", "0-"]) {
      const res = await c.request("PATCH", location, { headers: { "Content-Range": range }, body: randomBlob(10) });
      assertError(res, 416, "RANGE_INVALID", range);
    }
  });

  it("PATCH /v2/<name>/blobs/uploads/<id> streamed without Content-Range (chunked encoding) appends the body", async () => {
    const name = uniqueName("stream");
    const parts = [randomBlob(1000), randomBlob(65536), randomBlob(3)];
    const location = await c.startUpload(name);
    const res = await c.request("PATCH", location, { body: streamOf(...parts) });
    assert.equal(res.status, 202, res.text());
    assert.equal(res.headers.get("range"), `0-${1000 + 65536 + 3 - 1}`);
    const more = randomBlob(500);
    const again = await c.request("PATCH", locationPath(res, b.url), { body: streamOf(more) });
    assert.equal(again.status, 202, again.text());
    assert.equal(again.headers.get("range"), `0-${1000 + 65536 + 3 + 500 - 1}`);
    const all = Buffer.concat([...parts, more]);
    const done = await c.request("PUT", `${locationPath(again, b.url)}?digest=${digestOf(all)}`);
    assert.equal(done.status, 201, done.text());
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digestOf(all)}`)).body, all);
  });

  it("GET /v2/<name>/blobs/uploads/<id> answers 204 with Range and Docker-Upload-UUID", async () => {
    const name = uniqueName("status");
    const res = await c.request("POST", `/v2/${name}/blobs/uploads/`);
    const location = locationPath(res, b.url);
    const id = res.headers.get("docker-upload-uuid");
    const empty = await c.get(location);
    assert.equal(empty.status, 204);
    assert.equal(empty.headers.get("range"), "0-0");
    assert.equal(empty.headers.get("docker-upload-uuid"), id);
    await c.patch(location, randomBlob(100), 0);
    const after100 = await c.get(location);
    assert.equal(after100.status, 204);
    assert.equal(after100.headers.get("range"), "0-99");
    assert.equal(after100.headers.get("docker-upload-uuid"), id);
    assert.equal(after100.body.length, 0);
  });

  it("PUT /v2/<name>/blobs/uploads/<id>?digest= with a final chunk in the body answers 201", async () => {
    const name = uniqueName("final");
    const bytes = randomBlob(250);
    const location = await c.startUpload(name);
    await c.patch(location, bytes.subarray(0, 100), 0);
    const done = await c.request("PUT", `${location}?digest=${digestOf(bytes)}`, {
      headers: { "Content-Type": "application/octet-stream" },
      body: bytes.subarray(100),
    });
    assert.equal(done.status, 201, done.text());
    assert.equal(done.headers.get("docker-content-digest"), digestOf(bytes));
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`)).body, bytes);
  });

  it("PUT /v2/<name>/blobs/uploads/<id>?digest= with the whole blob as body (POST then PUT) answers 201", async () => {
    const name = uniqueName("postput");
    const bytes = randomBlob(1234);
    const location = await c.startUpload(name);
    const done = await c.request("PUT", `${location}?digest=${digestOf(bytes)}`, { body: bytes });
    assert.equal(done.status, 201, done.text());
    assert.deepEqual((await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`)).body, bytes);
  });

  it("PUT /v2/<name>/blobs/uploads/<id> with a wrong digest answers 400 DIGEST_INVALID and discards the upload", async () => {
    const name = uniqueName("wrong");
    const bytes = randomBlob(200);
    const location = await c.startUpload(name);
    await c.patch(location, bytes, 0);
    const claimed = digestOf(randomBlob(200));
    assertError(await c.request("PUT", `${location}?digest=${claimed}`), 400, "DIGEST_INVALID");
    assertError(await c.get(location), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.get(`/v2/${name}/blobs/${claimed}`), 404, "BLOB_UNKNOWN");
    assertError(await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`), 404, "BLOB_UNKNOWN");
  });

  it("PUT /v2/<name>/blobs/uploads/<id> without ?digest= answers 400 DIGEST_INVALID", async () => {
    const name = uniqueName("nodigest");
    const bytes = randomBlob(50);
    const location = await c.startUpload(name);
    await c.patch(location, bytes, 0);
    assertError(await c.request("PUT", location), 400, "DIGEST_INVALID");
    assertError(await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`), 404, "BLOB_UNKNOWN");
  });

  it("PUT /v2/<name>/blobs/uploads/<id> a second time after completion answers 404 BLOB_UPLOAD_UNKNOWN", async () => {
    const bytes = randomBlob(10);
    const location = await c.startUpload(uniqueName("twice"));
    assert.equal((await c.request("PUT", `${location}?digest=${digestOf(bytes)}`, { body: bytes })).status, 201);
    assertError(await c.request("PUT", `${location}?digest=${digestOf(bytes)}`), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.get(location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  it("DELETE /v2/<name>/blobs/uploads/<id> answers 204 and the upload is then unknown to GET, PATCH and PUT", async () => {
    const name = uniqueName("cancel");
    const bytes = randomBlob(100);
    const location = await c.startUpload(name);
    await c.patch(location, bytes, 0);
    const res = await c.delete(location);
    assert.equal(res.status, 204, res.text());
    assertError(await c.get(location), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.patch(location, randomBlob(10), 100), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.request("PUT", `${location}?digest=${digestOf(bytes)}`), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.delete(location), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`), 404, "BLOB_UNKNOWN");
  });

  it("GET, PATCH, PUT and DELETE /v2/<name>/blobs/uploads/<id> answer 404 BLOB_UPLOAD_UNKNOWN for an unknown id", async () => {
    const location = `/v2/${uniqueName("nobody")}/blobs/uploads/0f6b3c1e-0000-4000-8000-000000000000`;
    assertError(await c.get(location), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.patch(location, randomBlob(10), 0), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.request("PUT", `${location}?digest=${digestOf("x")}`, { body: "x" }), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.delete(location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  it("GET and PATCH /v2/<other>/blobs/uploads/<id> answer 404 BLOB_UPLOAD_UNKNOWN for an upload of another repository", async () => {
    const a = uniqueName("owner");
    const other = uniqueName("thief");
    const bytes = randomBlob(100);
    const location = await c.startUpload(a);
    const id = location.slice(location.lastIndexOf("/") + 1);
    const foreign = `/v2/${other}/blobs/uploads/${id}`;
    assertError(await c.get(foreign), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.patch(foreign, bytes, 0), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.request("PUT", `${foreign}?digest=${digestOf(bytes)}`), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await c.delete(foreign), 404, "BLOB_UPLOAD_UNKNOWN");
    // the upload in its own repository is untouched
    const own = await c.get(location);
    assert.equal(own.status, 204);
    assert.equal(own.headers.get("range"), "0-0");
    assertError(await c.get(`/v2/${other}/blobs/${digestOf(bytes)}`), 404, "BLOB_UNKNOWN");
  });
});
