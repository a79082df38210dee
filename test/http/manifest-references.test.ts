// The spec lists only 404 as the failure of GET/HEAD /v2/<name>/manifests/<ref> (end-3): a
// reference that is neither a tag nor a digest names no manifest. Writes say what is wrong (400).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, assertError, makeImage, uniqueName } from "./client.js";

/** Neither a valid tag nor a valid digest, each for a different reason. */
const NOT_A_REFERENCE = [".INVALID_MANIFEST_NAME", "-leading-dash", "a".repeat(129), "sha256:short", "sha256:" + "Z".repeat(64), "md5:" + "0".repeat(32)];

describe("manifests: references that are neither a tag nor a digest", () => {
  let b: TestBerth;
  let c: Client;
  let name: string;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
    name = uniqueName("refs");
    await c.pushImage(name, makeImage(), "v1");
  });
  after(() => b.stop());

  it("GET and HEAD answer 404 MANIFEST_UNKNOWN, in an existing repository and a missing one", async () => {
    for (const repo of [name, uniqueName("missing")]) {
      for (const ref of NOT_A_REFERENCE) {
        assertError(await c.get(`/v2/${repo}/manifests/${ref}`), 404, "MANIFEST_UNKNOWN", `GET ${repo} ${ref}`);
        const head = await c.head(`/v2/${repo}/manifests/${ref}`);
        assert.equal(head.status, 404, `HEAD ${repo} ${ref}`);
        assert.equal(head.body.length, 0, "HEAD has no body");
      }
    }
  });

  it("PUT and DELETE keep their 400s (TAG_INVALID, DIGEST_INVALID) and change nothing", async () => {
    const image = makeImage();
    assertError(await c.putManifest(name, ".INVALID_MANIFEST_NAME", image.manifest, image.mediaType), 400, "TAG_INVALID");
    assertError(await c.delete(`/v2/${name}/manifests/.INVALID_MANIFEST_NAME`), 400, "TAG_INVALID");
    assertError(await c.delete(`/v2/${name}/manifests/sha256:short`), 400, "DIGEST_INVALID");
    assert.deepEqual(await c.tags(name), ["v1"]);
  });
});
