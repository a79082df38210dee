import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { digestOf, EMPTY_JSON_DIGEST, parseDigest } from "../../src/oci/digest.js";
import { RegistryError } from "../../src/oci/errors.js";
import { parseManifest } from "../../src/oci/manifest.js";
import { parseContentRange, parseRangeHeader, uploadRangeHeader } from "../../src/oci/range.js";
import { isValidName, isValidTag, parseReference } from "../../src/oci/reference.js";

const code = (c: string) => (e: unknown) => e instanceof RegistryError && e.code === c;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe("digests", () => {
  it("accepts sha256 and sha512 and rejects everything else with DIGEST_INVALID", () => {
    assert.equal(parseDigest(digestOf("x")), digestOf("x"));
    assert.equal(parseDigest(digestOf("x", "sha512")), digestOf("x", "sha512"));
    for (const bad of ["sha256:zz", "md5:abc", `sha256:${"a".repeat(63)}`, `sha256:${"A".repeat(64)}`, "sha256", ":", ""]) {
      assert.throws(() => parseDigest(bad), code("DIGEST_INVALID"), bad);
    }
  });
  it("knows the empty JSON descriptor", () => {
    assert.equal(EMPTY_JSON_DIGEST, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  });
});

describe("names, tags, references", () => {
  it("follows the spec grammar", () => {
    for (const ok of ["a", "team/app", "a-b/c__d/e.f", "a--b", "x/y/z/w/v"]) assert.ok(isValidName(ok), ok);
    for (const bad of ["A", "a//b", "-a", "a-", "a/", "a..b", "a___b", "a".repeat(256)]) assert.ok(!isValidName(bad), bad);
    assert.ok(isValidTag("v1.0_rc-1") && isValidTag("_x") && isValidTag("a".repeat(128)));
    assert.ok(!isValidTag("-x") && !isValidTag(".x") && !isValidTag("a".repeat(129)) && !isValidTag("a/b"));
  });
  it("tells tags from digests", () => {
    assert.deepEqual(parseReference("latest"), { kind: "tag", tag: "latest" });
    assert.equal(parseReference(digestOf("m")).kind, "digest");
    assert.throws(() => parseReference("sha256:nope"), code("DIGEST_INVALID"));
    assert.throws(() => parseReference("-bad"), code("TAG_INVALID"));
  });
});

describe("ranges", () => {
  it("parses upload Content-Range in the spec form and common variants", () => {
    assert.deepEqual(parseContentRange("0-99"), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange("bytes 100-199/*"), { start: 100, end: 199 });
    assert.equal(parseContentRange("9-3"), undefined);
    assert.equal(parseContentRange("abc"), undefined);
  });
  it("interprets Range headers against a size", () => {
    assert.deepEqual(parseRangeHeader("bytes=0-9", 100), { kind: "satisfiable", range: { start: 0, end: 9 } });
    assert.deepEqual(parseRangeHeader("bytes=90-", 100), { kind: "satisfiable", range: { start: 90, end: 99 } });
    assert.deepEqual(parseRangeHeader("bytes=-5", 100), { kind: "satisfiable", range: { start: 95, end: 99 } });
    assert.deepEqual(parseRangeHeader("bytes=50-1000", 100), { kind: "satisfiable", range: { start: 50, end: 99 } });
    assert.deepEqual(parseRangeHeader("bytes=100-", 100), { kind: "unsatisfiable" });
    assert.deepEqual(parseRangeHeader("bytes=0-1,5-6", 100), { kind: "none" });
    assert.deepEqual(parseRangeHeader(undefined, 100), { kind: "none" });
  });
  it("reports upload progress as distribution does", () => {
    assert.equal(uploadRangeHeader(0), "0-0");
    assert.equal(uploadRangeHeader(100), "0-99");
  });
});

describe("parseManifest", () => {
  const d = digestOf("layer");
  const image = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf("c"), size: 1 },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: d, size: 5 }],
  };

  it("extracts blobs, artifact type and subject", () => {
    const parsed = parseManifest(json({ ...image, subject: { mediaType: image.mediaType, digest: d, size: 1 } }));
    assert.equal(parsed.kind, "image");
    assert.deepEqual(parsed.blobs.map((b) => b.digest), [digestOf("c"), d]);
    assert.equal(parsed.artifactType, "application/vnd.oci.image.config.v1+json");
    assert.equal(parsed.subject?.digest, d);
  });

  it("takes the media type from Content-Type when the body has none, and infers it when neither does", () => {
    const { mediaType: _, ...bare } = image;
    assert.equal(parseManifest(json(bare), "application/vnd.docker.distribution.manifest.v2+json").mediaType,
      "application/vnd.docker.distribution.manifest.v2+json");
    assert.equal(parseManifest(json(bare)).mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(parseManifest(json({ schemaVersion: 2, manifests: [] })).kind, "index");
  });

  it("rejects what a registry must not store", () => {
    assert.throws(() => parseManifest(Buffer.from("{nope")), code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(json([])), code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(json(image), "application/vnd.oci.image.index.v1+json"), code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(json({ ...image, schemaVersion: 1 })), code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(json({ ...image, mediaType: "application/x-unknown" })), code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(json({ ...image, layers: "x" })), code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(json({ ...image, layers: [{ mediaType: "x", digest: "sha256:bad", size: 1 }] })),
      code("DIGEST_INVALID"));
    assert.throws(() => parseManifest(json({ ...image, layers: [{ mediaType: "x", digest: d, size: -1 }] })),
      code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(json({ ...image, annotations: { a: 1 } })), code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(json({ ...image, artifactType: "application/x\u0000" })), code("MANIFEST_INVALID"));
  });
});
