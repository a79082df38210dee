import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import {
  Client,
  EMPTY_CONFIG,
  MT,
  assertError,
  descriptor,
  digestOf,
  json,
  locationPath,
  makeImage,
  makeIndex,
  randomBlob,
  uniqueName,
} from "./client.js";

describe("manifests: PUT, GET and HEAD", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("PUT /v2/<name>/manifests/<tag> stores an OCI image manifest: 201, Location by digest, Docker-Content-Digest", async () => {
    const name = uniqueName("oci");
    const image = makeImage({ layers: 2 });
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    const res = await c.putManifest(name, "v1", image.manifest, MT.ociManifest);
    assert.equal(res.status, 201, res.text());
    assert.equal(res.headers.get("docker-content-digest"), image.digest);
    assert.equal(locationPath(res, b.url), `/v2/${name}/manifests/${image.digest}`);
  });

  it("GET /v2/<name>/manifests/<tag|digest> returns the exact pushed bytes with type, digest, length and ETag", async () => {
    const name = uniqueName("exact");
    const image = makeImage();
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    // unusual key order, indentation, trailing whitespace and a unicode escape: the bytes must survive untouched
    const text =
      `{\n   "layers" : [ ${JSON.stringify(image.layers[0])} ],\r\n\t"config":${JSON.stringify(image.config)},` +
      `\n  "annotations": {"org.example.note": "caf\\u00e9   "},  "mediaType":"${MT.ociManifest}",  "schemaVersion" : 2 }\n\n`;
    const bytes = Buffer.from(text);
    const digest = digestOf(bytes);
    const put = await c.putManifest(name, "odd", bytes, MT.ociManifest);
    assert.equal(put.status, 201, put.text());
    assert.equal(put.headers.get("docker-content-digest"), digest);
    for (const ref of ["odd", digest]) {
      const res = await c.get(`/v2/${name}/manifests/${ref}`, { Accept: MT.ociManifest });
      assert.equal(res.status, 200, ref);
      assert.equal(res.headers.get("content-type"), MT.ociManifest, ref);
      assert.equal(res.headers.get("docker-content-digest"), digest, ref);
      assert.equal(res.headers.get("content-length"), String(bytes.length), ref);
      assert.equal(res.headers.get("etag"), `"${digest}"`, ref);
      assert.deepEqual(res.body, bytes, ref);
    }
  });

  it("HEAD /v2/<name>/manifests/<tag|digest> answers the GET headers without a body", async () => {
    const name = uniqueName("head");
    const image = await c.pushImage(name, makeImage(), "latest");
    for (const ref of ["latest", image.digest]) {
      const res = await c.head(`/v2/${name}/manifests/${ref}`);
      assert.equal(res.status, 200, ref);
      assert.equal(res.body.length, 0);
      assert.equal(res.headers.get("content-type"), MT.ociManifest);
      assert.equal(res.headers.get("docker-content-digest"), image.digest);
      assert.equal(res.headers.get("content-length"), String(image.manifest.length));
      assert.equal(res.headers.get("etag"), `"${image.digest}"`);
    }
  });

  it("GET /v2/<name>/manifests/<ref> with If-None-Match of the current ETag answers 304", async () => {
    const name = uniqueName("etag");
    const image = await c.pushImage(name, makeImage(), "v1");
    for (const ref of ["v1", image.digest]) {
      const res = await c.get(`/v2/${name}/manifests/${ref}`, { "If-None-Match": `"${image.digest}"` });
      assert.equal(res.status, 304, ref);
      assert.equal(res.body.length, 0);
    }
    const stale = await c.get(`/v2/${name}/manifests/v1`, { "If-None-Match": `"${digestOf("other")}"` });
    assert.equal(stale.status, 200);
    assert.deepEqual(stale.body, image.manifest);
  });

  it("GET /v2/<name>/manifests/<ref> with If-None-Match listing several ETags including the current one answers 304", async () => {
    const name = uniqueName("etaglist");
    const image = await c.pushImage(name, makeImage(), "v1");
    const res = await c.get(`/v2/${name}/manifests/v1`, { "If-None-Match": `"${digestOf("a")}", "${image.digest}"` });
    assert.equal(res.status, 304);
  });

  it("PUT /v2/<name>/manifests/<tag> of a manifest without a mediaType field serves it with the pushed Content-Type", async () => {
    const name = uniqueName("nomediatype");
    const image = makeImage();
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    const bytes = json({ schemaVersion: 2, config: image.config, layers: image.layers });
    const put = await c.putManifest(name, "bare", bytes, MT.ociManifest);
    assert.equal(put.status, 201, put.text());
    const res = await c.get(`/v2/${name}/manifests/bare`);
    assert.equal(res.headers.get("content-type"), MT.ociManifest);
    assert.deepEqual(res.body, bytes);
  });

  it("PUT /v2/<name>/manifests/<tag> stores a Docker schema2 manifest and serves it with its media type", async () => {
    const name = uniqueName("docker");
    const image = makeImage({ docker: true });
    assert.equal(image.config.mediaType, MT.dockerConfig);
    assert.equal(image.layers[0]!.mediaType, MT.dockerLayer);
    await c.pushImage(name, image, "v2");
    const res = await c.get(`/v2/${name}/manifests/v2`, { Accept: MT.dockerManifest });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), MT.dockerManifest);
    assert.equal(res.headers.get("docker-content-digest"), image.digest);
    assert.deepEqual(res.body, image.manifest);
  });

  it("PUT /v2/<name>/manifests/<tag> stores a Docker manifest list whose children were pushed by digest", async () => {
    const name = uniqueName("list");
    const amd = await c.pushImage(name, makeImage({ docker: true }));
    const arm = await c.pushImage(name, makeImage({ docker: true }));
    const list = makeIndex([amd, arm], { docker: true });
    const put = await c.putManifest(name, "multi", list.manifest, MT.dockerList);
    assert.equal(put.status, 201, put.text());
    assert.equal(put.headers.get("docker-content-digest"), list.digest);
    const res = await c.get(`/v2/${name}/manifests/multi`);
    assert.equal(res.headers.get("content-type"), MT.dockerList);
    assert.deepEqual(res.body, list.manifest);
    const child = await c.get(`/v2/${name}/manifests/${arm.digest}`);
    assert.equal(child.status, 200);
    assert.deepEqual(child.body, arm.manifest);
  });

  it("PUT /v2/<name>/manifests/<tag> stores an OCI index and an index of that index", async () => {
    const name = uniqueName("index");
    const one = await c.pushImage(name, makeImage());
    const two = await c.pushImage(name, makeImage());
    const inner = makeIndex([one, two]);
    await c.pushManifest(name, inner.digest, inner.manifest, MT.ociIndex);
    const outer = makeIndex([inner, one]);
    const put = await c.putManifest(name, "nested", outer.manifest, MT.ociIndex);
    assert.equal(put.status, 201, put.text());
    for (const [ref, m] of [["nested", outer], [inner.digest, inner]] as const) {
      const res = await c.get(`/v2/${name}/manifests/${ref}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), MT.ociIndex);
      assert.equal(res.headers.get("docker-content-digest"), m.digest);
      assert.deepEqual(res.body, m.manifest);
    }
  });

  it("PUT /v2/<name>/manifests/<tag> accepts an artifact with the empty config that was never pushed", async () => {
    const name = uniqueName("artifact");
    const image = makeImage({ emptyConfig: true, artifactType: "application/vnd.example.sbom+json" });
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    const put = await c.putManifest(name, "sbom", image.manifest, MT.ociManifest);
    assert.equal(put.status, 201, put.text());
    const res = await c.get(`/v2/${name}/manifests/sbom`);
    assert.deepEqual(res.body, image.manifest);
    assert.equal(JSON.parse(res.text()).artifactType, "application/vnd.example.sbom+json");
    // a client copying the artifact can read its config
    const config = await c.get(`/v2/${name}/blobs/${EMPTY_CONFIG.digest}`);
    assert.equal(config.status, 200);
    assert.equal(config.text(), "{}");
  });

  it("PUT /v2/<name>/manifests/<digest> stores a manifest addressed by its own digest", async () => {
    const name = uniqueName("bydigest");
    const image = makeImage();
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    const put = await c.putManifest(name, image.digest, image.manifest, MT.ociManifest);
    assert.equal(put.status, 201, put.text());
    assert.equal(put.headers.get("docker-content-digest"), image.digest);
    assert.equal((await c.get(`/v2/${name}/manifests/${image.digest}`)).status, 200);
    // no tag was created
    assert.deepEqual(await c.tags(name), []);
  });

  it("PUT /v2/<name>/manifests/<tag> again with another manifest moves the tag", async () => {
    const name = uniqueName("retag");
    const first = await c.pushImage(name, makeImage(), "stable");
    const second = await c.pushImage(name, makeImage(), "stable");
    const res = await c.get(`/v2/${name}/manifests/stable`);
    assert.equal(res.headers.get("docker-content-digest"), second.digest);
    assert.deepEqual(res.body, second.manifest);
    // the old manifest stays reachable by digest
    assert.deepEqual((await c.get(`/v2/${name}/manifests/${first.digest}`)).body, first.manifest);
    assert.deepEqual(await c.tags(name), ["stable"]);
  });

  it("PUT /v2/<name>/manifests/<digest>?tag=a&tag=b&tag=c tags the manifest three times and answers OCI-Tag", async () => {
    const name = uniqueName("multitag");
    const image = makeImage();
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    const put = await c.putManifest(name, image.digest, image.manifest, MT.ociManifest, "?tag=a&tag=b&tag=c");
    assert.equal(put.status, 201, put.text());
    const tags = (put.headers.get("oci-tag") ?? "").split(/,\s*/).sort();
    assert.deepEqual(tags, ["a", "b", "c"]);
    for (const tag of ["a", "b", "c"]) {
      const res = await c.get(`/v2/${name}/manifests/${tag}`);
      assert.equal(res.status, 200, tag);
      assert.equal(res.headers.get("docker-content-digest"), image.digest, tag);
    }
    assert.deepEqual(await c.tags(name), ["a", "b", "c"]);
  });

  it("GET and HEAD /v2/<name>/manifests/<ref> answer 404 MANIFEST_UNKNOWN for an unknown tag or digest", async () => {
    const name = uniqueName("unknown");
    const image = await c.pushImage(name, makeImage(), "present");
    assertError(await c.get(`/v2/${name}/manifests/absent`), 404, "MANIFEST_UNKNOWN");
    assertError(await c.get(`/v2/${name}/manifests/${digestOf(randomBlob())}`), 404, "MANIFEST_UNKNOWN");
    assert.equal((await c.head(`/v2/${name}/manifests/absent`)).status, 404);
    // nor is a manifest of one repository visible from another
    assertError(await c.get(`/v2/${uniqueName("elsewhere")}/manifests/${image.digest}`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> with a subject that does not exist answers 201 with OCI-Subject", async () => {
    const name = uniqueName("subject");
    const absent = makeImage();
    const subject = descriptor(MT.ociManifest, absent.manifest);
    const sig = makeImage({ emptyConfig: true, artifactType: "application/vnd.example.sig", subject });
    for (const blob of sig.blobs) await c.pushBlob(name, blob);
    const put = await c.putManifest(name, sig.digest, sig.manifest, MT.ociManifest);
    assert.equal(put.status, 201, put.text());
    assert.equal(put.headers.get("oci-subject"), absent.digest);
  });
});

describe("manifests: DELETE", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("DELETE /v2/<name>/manifests/<tag> answers 202, removes the tag and keeps the manifest by digest", async () => {
    const name = uniqueName("deltag");
    const image = await c.pushImage(name, makeImage(), "one");
    await c.pushManifest(name, "two", image.manifest, image.mediaType);
    const res = await c.delete(`/v2/${name}/manifests/one`);
    assert.equal(res.status, 202, res.text());
    assertError(await c.get(`/v2/${name}/manifests/one`), 404, "MANIFEST_UNKNOWN");
    assert.equal((await c.get(`/v2/${name}/manifests/two`)).status, 200);
    const byDigest = await c.get(`/v2/${name}/manifests/${image.digest}`);
    assert.equal(byDigest.status, 200);
    assert.deepEqual(byDigest.body, image.manifest);
    assert.deepEqual(await c.tags(name), ["two"]);
  });

  it("DELETE /v2/<name>/manifests/<digest> answers 202 and removes the manifest and all its tags", async () => {
    const name = uniqueName("deldigest");
    const keep = await c.pushImage(name, makeImage(), "keep");
    const image = await c.pushImage(name, makeImage(), "x");
    await c.pushManifest(name, "y", image.manifest, image.mediaType);
    const res = await c.delete(`/v2/${name}/manifests/${image.digest}`);
    assert.equal(res.status, 202, res.text());
    assertError(await c.get(`/v2/${name}/manifests/${image.digest}`), 404, "MANIFEST_UNKNOWN");
    assertError(await c.get(`/v2/${name}/manifests/x`), 404, "MANIFEST_UNKNOWN");
    assertError(await c.get(`/v2/${name}/manifests/y`), 404, "MANIFEST_UNKNOWN");
    assert.deepEqual(await c.tags(name), ["keep"]);
    assert.equal((await c.get(`/v2/${name}/manifests/${keep.digest}`)).status, 200);
  });

  it("DELETE /v2/<name>/manifests/<ref> answers 404 MANIFEST_UNKNOWN for an unknown tag or digest", async () => {
    const name = uniqueName("delunknown");
    const image = await c.pushImage(name, makeImage(), "v1");
    assertError(await c.delete(`/v2/${name}/manifests/nope`), 404, "MANIFEST_UNKNOWN");
    assertError(await c.delete(`/v2/${name}/manifests/${digestOf(randomBlob())}`), 404, "MANIFEST_UNKNOWN");
    assert.equal((await c.delete(`/v2/${name}/manifests/${image.digest}`)).status, 202);
    assertError(await c.delete(`/v2/${name}/manifests/${image.digest}`), 404, "MANIFEST_UNKNOWN");
  });
});

describe("manifests: DELETE with deletion disabled", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth({ BERTH_DELETE_ENABLED: "false" });
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("DELETE /v2/<name>/manifests/<tag|digest> answers 405 UNSUPPORTED and the manifest stays", async () => {
    const name = uniqueName("nodelete");
    const image = await c.pushImage(name, makeImage(), "v1");
    assertError(await c.delete(`/v2/${name}/manifests/v1`), 405, "UNSUPPORTED");
    assertError(await c.delete(`/v2/${name}/manifests/${image.digest}`), 405, "UNSUPPORTED");
    assert.equal((await c.get(`/v2/${name}/manifests/v1`)).status, 200);
    assert.equal((await c.get(`/v2/${name}/manifests/${image.digest}`)).status, 200);
  });
});
