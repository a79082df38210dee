import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { API_VERSION, Client, assertError, digestOf, makeImage, randomBlob } from "./client.js";

describe("base endpoint, health and routing", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("GET /v2/ answers 200 with an empty JSON object and the API version header", async () => {
    const res = await c.get("/v2/");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-distribution-api-version"), API_VERSION);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(res.json(), {});
  });

  it("HEAD /v2/ answers 200 with the API version header and no body", async () => {
    const res = await c.head("/v2/");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-distribution-api-version"), API_VERSION);
    assert.equal(res.body.length, 0);
  });

  it("GET /v2 without the trailing slash answers 200 too", async () => {
    const res = await c.get("/v2");
    assert.equal(res.status, 200);
  });

  it("GET /healthz and GET /readyz answer 200", async () => {
    for (const path of ["/healthz", "/readyz"]) {
      const res = await fetch(`${b.url}${path}`);
      assert.equal(res.status, 200, path);
      await res.arrayBuffer();
    }
  });

  it("GET /v2/<unknown path> answers 404 UNSUPPORTED", async () => {
    for (const path of ["/v2/foo/bar", "/v2/foo/blobs", "/v2/foo/manifests/", "/v2/_catalog/extra", "/v2/foo/tags/list/x/y/"]) {
      assertError(await c.get(path), 404, "UNSUPPORTED", path);
    }
  });

  it("every /v2 error response carries Docker-Distribution-Api-Version", async () => {
    const responses = [
      await c.get("/v2/foo/bar"),
      await c.get(`/v2/nothing/blobs/${digestOf("x")}`),
      await c.get("/v2/nothing/manifests/latest"),
      await c.get("/v2/Bad/tags/list"),
      await c.request("PUT", "/v2/"),
    ];
    for (const res of responses) {
      assert.ok(res.status >= 400);
      assert.equal(res.headers.get("docker-distribution-api-version"), API_VERSION);
    }
  });

  it("PUT /v2/ and DELETE /v2/_catalog answer 405 UNSUPPORTED with Allow", async () => {
    const base = await c.request("PUT", "/v2/");
    assertError(base, 405, "UNSUPPORTED");
    assert.match(base.headers.get("allow") ?? "", /\bGET\b/);
    const catalog = await c.delete("/v2/_catalog");
    assertError(catalog, 405, "UNSUPPORTED");
    assert.match(catalog.headers.get("allow") ?? "", /\bGET\b/);
  });

  it("POST /v2/<name>/manifests/<ref> answers 405 UNSUPPORTED with Allow listing the manifest methods", async () => {
    const res = await c.request("POST", "/v2/foo/manifests/latest");
    assertError(res, 405, "UNSUPPORTED");
    const allow = (res.headers.get("allow") ?? "").split(/,\s*/).sort();
    assert.deepEqual(allow, ["DELETE", "GET", "HEAD", "PUT"]);
  });

  it("PUT /v2/<name>/blobs/<digest> and POST /v2/<name>/tags/list answer 405 UNSUPPORTED with Allow", async () => {
    const blob = await c.request("PUT", `/v2/foo/blobs/${digestOf("x")}`);
    assertError(blob, 405, "UNSUPPORTED");
    assert.match(blob.headers.get("allow") ?? "", /\bGET\b/);
    assert.doesNotMatch(blob.headers.get("allow") ?? "", /\bPUT\b/);
    const tags = await c.request("POST", "/v2/foo/tags/list");
    assertError(tags, 405, "UNSUPPORTED");
    assert.match(tags.headers.get("allow") ?? "", /\bGET\b/);
  });

  it("GET /v2/<name>/blobs/uploads/ answers 405 UNSUPPORTED with Allow: POST", async () => {
    const res = await c.get("/v2/foo/blobs/uploads/");
    assertError(res, 405, "UNSUPPORTED");
    assert.match(res.headers.get("allow") ?? "", /\bPOST\b/);
  });
});

describe("repository names", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("GET /v2/<name>/tags/list rejects names outside the spec grammar with 400 NAME_INVALID", async () => {
    const invalid = ["Upper", "a//b", "-a", "a-", "a/", "a..b", "a___b", "a/_b", "a:b", "a%2Fb"];
    for (const name of invalid) assertError(await c.get(`/v2/${name}/tags/list`), 400, "NAME_INVALID", name);
  });

  it("POST /v2/<name>/blobs/uploads/ rejects an uppercase name with 400 NAME_INVALID", async () => {
    assertError(await c.request("POST", "/v2/Library/alpine/blobs/uploads/"), 400, "NAME_INVALID");
  });

  it("GET /v2/<name>/manifests/<ref> rejects a 256-character name with 400 NAME_INVALID", async () => {
    const name = `${"a".repeat(127)}/${"b".repeat(128)}`;
    assert.equal(name.length, 256);
    assertError(await c.get(`/v2/${name}/manifests/latest`), 400, "NAME_INVALID");
  });

  it("POST /v2/<name>/blobs/uploads/ accepts a 255-character name and every separator of the grammar", async () => {
    const long = `${"a".repeat(127)}/${"b".repeat(127)}`;
    assert.equal(long.length, 255);
    for (const name of [long, "a.b", "a_b", "a__b", "a---b", "a0/b-1/c.2/d__3"]) {
      const res = await c.request("POST", `/v2/${name}/blobs/uploads/`);
      assert.equal(res.status, 202, `${name}: ${res.status} ${res.text()}`);
    }
  });

  for (const name of ["a/blobs/uploads", "x/manifests/y", "tags/list/z", "blobs/referrers/manifests"]) {
    it(`PUT /v2/<name>/manifests/<ref> and blob reads route correctly for repository ${name}`, async () => {
      const image = makeImage();
      await c.pushImage(name, image, "v1");
      for (const [i, blob] of image.blobs.entries()) {
        const res = await c.get(`/v2/${name}/blobs/${digestOf(blob)}`);
        assert.equal(res.status, 200, `blob ${i}: ${res.status} ${res.text()}`);
        assert.deepEqual(res.body, blob);
      }
      const byTag = await c.get(`/v2/${name}/manifests/v1`);
      assert.equal(byTag.status, 200);
      assert.deepEqual(byTag.body, image.manifest);
      const byDigest = await c.head(`/v2/${name}/manifests/${image.digest}`);
      assert.equal(byDigest.status, 200);
      assert.deepEqual(await c.tags(name), ["v1"]);
    });
  }

  it("POST /v2/<name>/blobs/uploads/ with a chunked session works for repository a/blobs/uploads", async () => {
    const name = "a/blobs/uploads";
    const bytes = randomBlob(300);
    const location = await c.startUpload(name);
    assert.ok(new URL(location, b.url).pathname.startsWith(`/v2/${name}/blobs/uploads/`), location);
    assert.equal((await c.patch(location, bytes, 0)).status, 202);
    const done = await c.request("PUT", `${location}?digest=${digestOf(bytes)}`);
    assert.equal(done.status, 201, done.text());
    const res = await c.get(`/v2/${name}/blobs/${digestOf(bytes)}`);
    assert.deepEqual(res.body, bytes);
    // and the shorter repository `a` did not receive it
    assertError(await c.get(`/v2/a/blobs/${digestOf(bytes)}`), 404, "BLOB_UNKNOWN");
  });
});

describe("digests in paths", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  const malformed = [
    "sha256:zz",
    "md5:abc",
    `sha256:${"a".repeat(63)}`,
    `sha256:${"a".repeat(65)}`,
    `sha256:${"A".repeat(64)}`,
    `sha512:${"a".repeat(64)}`,
    "sha256:",
  ];

  it("GET and DELETE /v2/<name>/blobs/<digest> answer 400 DIGEST_INVALID for malformed digests", async () => {
    for (const d of malformed) {
      assertError(await c.get(`/v2/foo/blobs/${d}`), 400, "DIGEST_INVALID", `GET ${d}`);
      assertError(await c.delete(`/v2/foo/blobs/${d}`), 400, "DIGEST_INVALID", `DELETE ${d}`);
    }
  });

  it("HEAD /v2/<name>/blobs/<digest> answers 400 for a malformed digest, never 500", async () => {
    for (const d of malformed) assert.equal((await c.head(`/v2/foo/blobs/${d}`)).status, 400, d);
  });

  it("GET /v2/<name>/manifests/<digest> answers 404 MANIFEST_UNKNOWN for malformed digests (the spec's only GET failure); DELETE 400 DIGEST_INVALID", async () => {
    for (const d of malformed) assertError(await c.get(`/v2/foo/manifests/${d}`), 404, "MANIFEST_UNKNOWN", d);
    for (const d of malformed) assertError(await c.delete(`/v2/foo/manifests/${d}`), 400, "DIGEST_INVALID", d);
  });

  it("POST /v2/<name>/blobs/uploads/?digest= answers 400 DIGEST_INVALID for malformed digests", async () => {
    for (const d of malformed) {
      const res = await c.request("POST", `/v2/foo/blobs/uploads/?digest=${encodeURIComponent(d)}`, { body: "x" });
      assertError(res, 400, "DIGEST_INVALID", d);
    }
  });

  it("POST /v2/<name>/blobs/uploads/?mount= answers 400 DIGEST_INVALID for a malformed digest", async () => {
    const res = await c.request("POST", "/v2/foo/blobs/uploads/?mount=sha256:zz&from=bar");
    assertError(res, 400, "DIGEST_INVALID");
  });
});
