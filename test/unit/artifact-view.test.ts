import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeImageConfig, describeManifest, platformString } from "../../src/oci/artifact-view.js";
import { MediaType } from "../../src/oci/media-types.js";
import { isArtifactRequest } from "../../src/http/handlers/artifact-api.js";

const HOSTILE = [`<script>alert(1)</script>`, `<img src=x onerror="alert(2)">`, `javascript:alert(3)`, `"}]},{"x":"`];

describe("artifact view: what the artifact page shows of a manifest and its config", () => {
  it("reads an image config's platform, author, labels, env, entrypoint, cmd and history", () => {
    const view = describeImageConfig({
      architecture: "arm64",
      os: "linux",
      variant: "v8",
      created: "2026-12-01T10:00:00Z",
      author: "Ada",
      config: { Labels: { "org.opencontainers.image.source": "https://example.com/x" }, Env: ["PATH=/bin"], Entrypoint: ["/app"], Cmd: ["--serve"] },
      history: [{ created: "2026-12-01T09:00:00Z", created_by: "ADD rootfs /" }, { created_by: "ENV A=b", empty_layer: true, comment: "buildkit" }],
    });
    assert.deepEqual(view, {
      platform: "linux/arm64/v8",
      created: "2026-12-01T10:00:00Z",
      author: "Ada",
      labels: { "org.opencontainers.image.source": "https://example.com/x" },
      env: ["PATH=/bin"],
      entrypoint: ["/app"],
      cmd: ["--serve"],
      history: [
        { created: "2026-12-01T09:00:00Z", createdBy: "ADD rootfs /", emptyLayer: false },
        { createdBy: "ENV A=b", emptyLayer: true, comment: "buildkit" },
      ],
    });
  });

  it("gives hostile labels, history and annotations back verbatim, as strings, and drops values of the wrong type", () => {
    const labels = Object.fromEntries(HOSTILE.map((h, i) => [`l${i}${h}`, h]));
    const view = describeImageConfig({
      author: HOSTILE[0],
      config: { Labels: { ...labels, object: { toString: "<b>" }, number: 7 }, Env: HOSTILE, Cmd: [HOSTILE[1], 5] },
      history: [...HOSTILE.map((h) => ({ created_by: h, comment: h, created: h })), "not an entry", { created_by: { html: "<i>" } }],
    });
    assert.equal(view.author, HOSTILE[0]);
    assert.deepEqual(view.labels, labels);
    assert.deepEqual(view.env, HOSTILE);
    assert.equal(view.cmd, undefined, "an array that is not all strings is left out");
    assert.deepEqual(view.history, [...HOSTILE.map((h) => ({ created: h, createdBy: h, emptyLayer: false, comment: h })), { emptyLayer: false }]);
    for (const value of [...Object.values(view.labels), ...view.history.flatMap((h) => [h.created, h.createdBy, h.comment])]) {
      assert.ok(value === undefined || typeof value === "string");
    }

    const annotations = Object.fromEntries(HOSTILE.map((h, i) => [`a${i}`, h]));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: "sha256:" + "a".repeat(64), size: 10 },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: "sha256:" + "b".repeat(64), size: 3, annotations: { "org.opencontainers.image.title": HOSTILE[1]!, bad: 1 } }],
      annotations,
    }));
    const m = describeManifest(manifest, MediaType.OciManifest);
    assert.deepEqual(m.annotations, annotations);
    assert.deepEqual(m.layers[0]!.annotations, { "org.opencontainers.image.title": HOSTILE[1] });
  });

  it("lists an index's children with their platforms, and names an artifact's type", () => {
    const child = (arch: string, variant?: string) => ({
      mediaType: MediaType.OciManifest,
      digest: `sha256:${arch.padEnd(64, "0").slice(0, 64).replace(/[^0-9a-f]/g, "0")}`,
      size: 100,
      platform: { os: "linux", architecture: arch, ...(variant ? { variant } : {}) },
    });
    const index = describeManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [child("amd64"), child("arm64", "v8"), { mediaType: "x" }] })), MediaType.OciIndex);
    assert.deepEqual(index.manifests?.map((c) => c.platform), ["linux/amd64", "linux/arm64/v8"]);
    assert.deepEqual(index.layers, []);
    assert.equal(index.config, undefined);

    const artifact = describeManifest(
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: "application/vnd.cncf.helm.config.v1+json", digest: "sha256:" + "c".repeat(64), size: 2 }, layers: [] })),
      MediaType.OciManifest,
    );
    assert.equal(artifact.artifactType, "application/vnd.cncf.helm.config.v1+json");
    assert.equal(platformString({ os: "windows", architecture: "amd64" }), "windows/amd64");
    assert.deepEqual(describeManifest(Buffer.from("not json"), MediaType.DockerSchema1), { annotations: {}, layers: [] });
  });
});

describe("isArtifactRequest: which /api/v1/browse/repositories paths are an artifact's page", () => {
  it("takes <name…>/manifests/<ref> with the reference as the last segment, and leaves the rest to the browse API", () => {
    const table: [string, boolean][] = [
      ["/api/v1/browse/repositories/a/manifests/v1", true],
      ["/api/v1/browse/repositories/a/b/c/manifests/sha256:abc", true],
      ["/api/v1/browse/repositories/manifests/manifests/v1", true],
      ["/api/v1/browse/repositories/a/manifests/b/tags", false],
      ["/api/v1/browse/repositories/a/manifests/", false],
      ["/api/v1/browse/repositories/manifests/v1", false],
      ["/api/v1/browse/repositories/a/info", false],
      ["/api/v1/browse/repositories/a/tags", false],
      ["/api/v1/browse/namespaces", false],
    ];
    for (const [path, expected] of table) assert.equal(isArtifactRequest(path), expected, path);
  });
});
