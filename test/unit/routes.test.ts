import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseV2Path } from "../../src/http/routes.js";
import { RegistryError } from "../../src/oci/errors.js";

describe("parseV2Path", () => {
  const cases: [string, unknown][] = [
    ["/v2/", { kind: "base" }],
    ["/v2", { kind: "base" }],
    ["/v2/_catalog", { kind: "catalog" }],
    ["/v2/team/app/tags/list", { kind: "tags", name: "team/app" }],
    ["/v2/a/manifests/latest", { kind: "manifest", name: "a", reference: "latest" }],
    ["/v2/a/b/c/d/blobs/sha256:abc", { kind: "blob", name: "a/b/c/d", digest: "sha256:abc" }],
    ["/v2/a/blobs/uploads/", { kind: "uploads", name: "a" }],
    ["/v2/a/blobs/uploads", { kind: "uploads", name: "a" }],
    ["/v2/a/blobs/uploads/1234-abcd", { kind: "upload", name: "a", id: "1234-abcd" }],
    ["/v2/a/referrers/sha256:abc", { kind: "referrers", name: "a", digest: "sha256:abc" }],
    // names whose segments are route words
    ["/v2/x/blobs/uploads/blobs/uploads/", { kind: "uploads", name: "x/blobs/uploads" }],
    ["/v2/x/manifests/manifests/v1", { kind: "manifest", name: "x/manifests", reference: "v1" }],
    ["/v2/tags/list/tags/list", { kind: "tags", name: "tags/list" }],
    ["/v2/blobs/blobs/sha256:abc", { kind: "blob", name: "blobs", digest: "sha256:abc" }],
    ["/v2/uploads/blobs/uploads/u1", { kind: "upload", name: "uploads", id: "u1" }],
    ["/v2/a/manifests/sha256%3Aabc", { kind: "manifest", name: "a", reference: "sha256:abc" }],
  ];
  for (const [path, route] of cases) {
    it(`routes ${path}`, () => assert.deepEqual(parseV2Path(path), route));
  }

  it("returns undefined outside the API", () => {
    assert.equal(parseV2Path("/v1/x"), undefined);
    assert.equal(parseV2Path("/v2/a/unknown/x"), undefined);
    assert.equal(parseV2Path("/v2/a/manifests/"), undefined);
  });

  it("rejects an invalid repository name with NAME_INVALID", () => {
    for (const path of ["/v2/Upper/manifests/x", "/v2/a//b/tags/list", "/v2/-a/blobs/sha256:x", `/v2/${"a".repeat(256)}/tags/list`]) {
      assert.throws(() => parseV2Path(path), (e) => e instanceof RegistryError && e.code === "NAME_INVALID", path);
    }
  });
});
