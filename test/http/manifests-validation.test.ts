import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, MT, assertError, descriptor, digestOf, json, makeImage, makeIndex, randomBlob, uniqueName } from "./client.js";

describe("manifests: PUT validation", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  /** Pushes the blobs of a fresh image and returns it, manifest not pushed. */
  async function staged(name: string, options: Parameters<typeof makeImage>[0] = {}) {
    const image = makeImage(options);
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    return image;
  }

  it("PUT /v2/<name>/manifests/<digest> rejects bytes that hash to another digest with 400 DIGEST_INVALID", async () => {
    const name = uniqueName("mismatch");
    const image = await staged(name);
    const other = digestOf(randomBlob());
    assertError(await c.putManifest(name, other, image.manifest, MT.ociManifest), 400, "DIGEST_INVALID");
    assertError(await c.get(`/v2/${name}/manifests/${other}`), 404, "MANIFEST_UNKNOWN");
    assertError(await c.get(`/v2/${name}/manifests/${image.digest}`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> rejects invalid JSON with 400 MANIFEST_INVALID and creates no tag", async () => {
    const name = uniqueName("badjson");
    await staged(name);
    for (const body of ['{"schemaVersion": 2,', "not json", "[]", '"a string"']) {
      assertError(await c.putManifest(name, "broken", Buffer.from(body), MT.ociManifest), 400, "MANIFEST_INVALID", body);
    }
    assertError(await c.get(`/v2/${name}/manifests/broken`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> rejects a body mediaType differing from Content-Type with 400 MANIFEST_INVALID", async () => {
    const name = uniqueName("mtmismatch");
    const image = await staged(name);
    assertError(await c.putManifest(name, "v1", image.manifest, MT.dockerManifest), 400, "MANIFEST_INVALID");
    assertError(await c.putManifest(name, "v1", image.manifest, MT.ociIndex), 400, "MANIFEST_INVALID");
    assertError(await c.get(`/v2/${name}/manifests/v1`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> rejects schemaVersion 1 manifests with 400 MANIFEST_INVALID", async () => {
    const name = uniqueName("schema1");
    const schema1 = json({
      schemaVersion: 1,
      name,
      tag: "old",
      architecture: "amd64",
      fsLayers: [{ blobSum: digestOf(randomBlob()) }],
      history: [{ v1Compatibility: "{}" }],
    });
    for (const type of ["application/vnd.docker.distribution.manifest.v1+prettyjws", "application/vnd.docker.distribution.manifest.v1+json"]) {
      assertError(await c.putManifest(name, "old", schema1, type), 400, "MANIFEST_INVALID", type);
    }
    const image = await staged(name);
    const v1 = json({ ...JSON.parse(image.manifest.toString()), schemaVersion: 1 });
    assertError(await c.putManifest(name, "old", v1, MT.ociManifest), 400, "MANIFEST_INVALID");
    assertError(await c.get(`/v2/${name}/manifests/old`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> rejects a manifest whose layer is missing with 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const name = uniqueName("nolayer");
    const image = makeImage({ layers: 2 });
    await c.pushBlob(name, image.blobs[0]!);
    await c.pushBlob(name, image.blobs[1]!);
    const err = assertError(await c.putManifest(name, "v1", image.manifest, MT.ociManifest), 400, "MANIFEST_BLOB_UNKNOWN");
    assert.equal(err.detail?.digest, image.layers[1]!.digest);
    assertError(await c.get(`/v2/${name}/manifests/v1`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> rejects a manifest whose config is missing with 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const name = uniqueName("noconfig");
    const image = makeImage();
    for (const blob of image.blobs.slice(1)) await c.pushBlob(name, blob);
    const err = assertError(await c.putManifest(name, "v1", image.manifest, MT.ociManifest), 400, "MANIFEST_BLOB_UNKNOWN");
    assert.equal(err.detail?.digest, image.config.digest);
  });

  it("PUT /v2/<name>/manifests/<tag> rejects layers pushed only to another repository with 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const image = await staged(uniqueName("owner"));
    const name = uniqueName("stranger");
    assertError(await c.putManifest(name, "v1", image.manifest, MT.ociManifest), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> rejects an index whose child is missing with 400 MANIFEST_UNKNOWN", async () => {
    const name = uniqueName("nochild");
    const present = await c.pushImage(name, makeImage());
    const absent = await staged(name);
    const index = makeIndex([present, absent]);
    const err = assertError(await c.putManifest(name, "multi", index.manifest, MT.ociIndex), 400, "MANIFEST_UNKNOWN");
    assert.equal(err.detail?.digest, absent.digest);
    assertError(await c.get(`/v2/${name}/manifests/multi`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> rejects a malformed layer digest with 400 DIGEST_INVALID", async () => {
    const name = uniqueName("baddigest");
    const image = await staged(name);
    const body = JSON.parse(image.manifest.toString());
    for (const digest of ["sha256:zz", `sha256:${"A".repeat(64)}`, "md5:d41d8cd98f00b204e9800998ecf8427e"]) {
      body.layers[0].digest = digest;
      assertError(await c.putManifest(name, "v1", json(body), MT.ociManifest), 400, "DIGEST_INVALID", digest);
    }
  });

  it("PUT /v2/<name>/manifests/<tag> rejects invalid tags with 400 TAG_INVALID and accepts a 128-character tag", async () => {
    const name = uniqueName("tags");
    const image = await staged(name);
    for (const tag of ["-bad", ".bad", "a".repeat(129), "bad%21tag"]) {
      assertError(await c.putManifest(name, tag, image.manifest, MT.ociManifest), 400, "TAG_INVALID", tag);
    }
    const longest = `A_${"z".repeat(124)}.9`;
    assert.equal(longest.length, 128);
    const ok = await c.putManifest(name, longest, image.manifest, MT.ociManifest);
    assert.equal(ok.status, 201, ok.text());
    assert.equal((await c.get(`/v2/${name}/manifests/${longest}`)).status, 200);
  });

  it("PUT /v2/<name>/manifests/<digest>?tag= rejects an invalid extra tag with 400 TAG_INVALID and stores nothing", async () => {
    const name = uniqueName("badextra");
    const image = await staged(name);
    const res = await c.putManifest(name, image.digest, image.manifest, MT.ociManifest, "?tag=good&tag=-bad");
    assertError(res, 400, "TAG_INVALID");
    assertError(await c.get(`/v2/${name}/manifests/good`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> accepts a ~3.9 MiB manifest under the default 4 MiB limit", async () => {
    const name = uniqueName("big");
    const image = await staged(name, { annotations: { "org.example.padding": "x".repeat(Math.floor(3.9 * 1024 * 1024)) } });
    assert.ok(image.manifest.length < 4 * 1024 * 1024 && image.manifest.length > 3.8 * 1024 * 1024);
    const res = await c.putManifest(name, "big", image.manifest, MT.ociManifest);
    assert.equal(res.status, 201, res.text());
    const got = await c.get(`/v2/${name}/manifests/big`);
    assert.equal(got.headers.get("content-length"), String(image.manifest.length));
    assert.deepEqual(got.body, image.manifest);
  });
});

describe("manifests: PUT size limit of 1KiB", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth({ BERTH_MANIFEST_MAX_SIZE: "1KiB" });
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("PUT /v2/<name>/manifests/<tag> answers 413 SIZE_INVALID for a manifest above BERTH_MANIFEST_MAX_SIZE", async () => {
    const name = uniqueName("limit");
    const image = makeImage({ annotations: { pad: "x".repeat(1500) } });
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    assert.ok(image.manifest.length > 1024);
    assertError(await c.putManifest(name, "v1", image.manifest, MT.ociManifest), 413, "SIZE_INVALID");
    assertError(await c.get(`/v2/${name}/manifests/v1`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT /v2/<name>/manifests/<tag> still accepts a manifest below BERTH_MANIFEST_MAX_SIZE", async () => {
    const name = uniqueName("small");
    const image = makeImage();
    assert.ok(image.manifest.length < 1024, `manifest is ${image.manifest.length} bytes`);
    await c.pushImage(name, image, "v1");
    assert.equal((await c.get(`/v2/${name}/manifests/v1`)).status, 200);
  });

  it("PUT /v2/<name>/manifests/<digest> answers 413 for an oversized index too", async () => {
    const name = uniqueName("bigindex");
    const child = await c.pushImage(name, makeImage());
    const index = makeIndex([child, child, child, child, child, child, child, child]);
    assert.ok(index.manifest.length > 1024);
    assertError(await c.putManifest(name, index.digest, index.manifest, MT.ociIndex), 413, "SIZE_INVALID");
  });
});

describe("manifests: PUT descriptors", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  it("PUT /v2/<name>/manifests/<tag> of a referrer answers OCI-Subject with the subject digest once the subject exists", async () => {
    const name = uniqueName("subject");
    const subject = await c.pushImage(name, makeImage(), "v1");
    const sig = makeImage({ emptyConfig: true, artifactType: "application/vnd.example.sig", subject: descriptor(MT.ociManifest, subject.manifest) });
    for (const blob of sig.blobs) await c.pushBlob(name, blob);
    const res = await c.putManifest(name, sig.digest, sig.manifest, MT.ociManifest);
    assert.equal(res.status, 201, res.text());
    assert.equal(res.headers.get("oci-subject"), subject.digest);
  });

  it("PUT /v2/<name>/manifests/<tag> of a manifest without subject answers no OCI-Subject", async () => {
    const name = uniqueName("nosubject");
    const image = makeImage();
    for (const blob of image.blobs) await c.pushBlob(name, blob);
    const res = await c.putManifest(name, "v1", image.manifest, MT.ociManifest);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("oci-subject"), null);
  });
});
