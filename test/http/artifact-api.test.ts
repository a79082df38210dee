import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Digest } from "../../src/oci/digest.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { createCosignKeyPair, type CosignKeyPair } from "../helpers/cosign-keys.js";
import { sigstoreBundle } from "../helpers/signatures.js";
import { assertError, descriptor, digestOf, json, makeIndex, MT, randomBlob } from "./client.js";
import { AuthClient, basic, createUser, declareNamespace } from "./auth-client.js";

const HOSTILE = [`<script>alert(1)</script>`, `<img src=x onerror="alert(2)">`, `javascript:alert(3)`];
const ADMIN = basic("admin", "admin-password");

/** An image whose config carries labels and history, and whose manifest carries annotations, all hostile. */
function hostileImage(arch = "amd64") {
  const config = json({
    architecture: arch,
    os: "linux",
    created: "2026-12-01T10:00:00Z",
    author: HOSTILE[0],
    config: { Labels: { "org.opencontainers.image.source": HOSTILE[2], [HOSTILE[1]!]: HOSTILE[0] }, Env: ["PATH=/usr/bin"], Entrypoint: ["/bin/app"], Cmd: [HOSTILE[1]] },
    rootfs: { type: "layers", diff_ids: [] },
    history: [{ created: "2026-12-01T09:00:00Z", created_by: `/bin/sh -c echo '${HOSTILE[0]}'` }, { created_by: "LABEL x=y", empty_layer: true, comment: HOSTILE[1] }],
    nonce: randomBlob(8).toString("hex"),
  });
  const layers = [randomBlob(300), randomBlob(200)];
  const manifest = json({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: descriptor(MT.ociConfig, config),
    layers: layers.map((l, i) => descriptor("application/vnd.oci.image.layer.v1.tar+gzip", l, i === 0 ? { annotations: { "org.opencontainers.image.title": HOSTILE[0]! } } : {})),
    annotations: { "org.opencontainers.image.description": HOSTILE[0]!, "org.opencontainers.image.url": HOSTILE[2]! },
  });
  return { config, layers, manifest, blobs: [config, ...layers] };
}

describe("GET /api/v1/browse/repositories/<name>/manifests/<ref>: the artifact page's data", () => {
  let dir: string;
  let b: TestBerth;
  let admin: AuthClient;
  let reader: AuthClient;
  let keys: CosignKeyPair;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-artifact-api-"));
    keys = await createCosignKeyPair(join(dir, "keys"));
    await writeFile(join(dir, "berth.yaml"), JSON.stringify({ signatures: { policies: [{ repositories: ["art/*"], mode: "report", cosignKeys: [keys.publicKeyPath] }] } }));
    b = await startBerth({ BERTH_CONFIG: join(dir, "berth.yaml"), BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" });
    admin = new AuthClient(b.url, ADMIN);
    await declareNamespace(admin, "art");
    await createUser(admin, "rita", "rita-password", { namespace: "art", role: "reader" });
    await createUser(admin, "otto", "otto-password");
    reader = new AuthClient(b.url, basic("rita", "rita-password"));
  });
  after(async () => {
    await b?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const page = (c: AuthClient, name: string, ref: string) => c.get(`/api/v1/browse/repositories/${name}/manifests/${ref}`);

  it("shows an image by tag to a reader: exact bytes, tags, layers, config fields, history, referrers with verification, supply report; hostile text verbatim; no pull recorded", async () => {
    const image = hostileImage();
    for (const blob of image.blobs) await admin.pushBlob("art/app", blob);
    const digest = await admin.pushManifest("art/app", "v1", image.manifest, MT.ociManifest);
    await admin.pushManifest("art/app", "latest", image.manifest, MT.ociManifest);
    const bundle = await sigstoreBundle({ subject: digest as Digest, privateKey: keys.privateKey, publicKey: keys.publicKey });
    for (const blob of bundle.blobs.values()) await admin.pushBlob("art/app", blob);
    await admin.pushManifest("art/app", bundle.artifact.digest, bundle.artifact.content, bundle.artifact.mediaType);

    const res = await page(reader, "art/app", "v1");
    assert.equal(res.status, 200, res.text());
    assert.match(res.headers.get("content-type")!, /^application\/json/);
    const body = res.json<Record<string, any>>();
    assert.equal(body.digest, digest);
    assert.equal(body.mediaType, MT.ociManifest);
    assert.equal(body.size, image.manifest.length);
    assert.equal(body.content, image.manifest.toString("utf8"), "the exact manifest bytes");
    assert.deepEqual(body.tags, ["latest", "v1"]);
    assert.deepEqual(body.annotations, { "org.opencontainers.image.description": HOSTILE[0], "org.opencontainers.image.url": HOSTILE[2] });
    assert.deepEqual(body.layers.map((l: { size: number }) => l.size), [300, 200]);
    assert.deepEqual(body.layers[0].annotations, { "org.opencontainers.image.title": HOSTILE[0] });
    assert.equal(body.totalSize, image.manifest.length + image.config.length + 500);
    assert.equal(body.artifactType, undefined);
    const { config } = body;
    assert.equal(config.mediaType, MT.ociConfig);
    assert.equal(config.size, image.config.length);
    assert.equal(config.platform, "linux/amd64");
    assert.equal(config.created, "2026-12-01T10:00:00Z");
    assert.equal(config.author, HOSTILE[0]);
    assert.deepEqual(config.labels, { "org.opencontainers.image.source": HOSTILE[2], [HOSTILE[1]!]: HOSTILE[0] });
    assert.deepEqual(config.entrypoint, ["/bin/app"]);
    assert.deepEqual(config.cmd, [HOSTILE[1]]);
    assert.deepEqual(config.history, [
      { created: "2026-12-01T09:00:00Z", createdBy: `/bin/sh -c echo '${HOSTILE[0]}'`, emptyLayer: false },
      { createdBy: "LABEL x=y", emptyLayer: true, comment: HOSTILE[1] },
    ]);
    assert.equal(config.content, image.config.toString("utf8"));

    assert.equal(body.referrers.length, 1);
    const [referrer] = body.referrers;
    assert.equal(referrer.digest, bundle.artifact.digest);
    assert.equal(referrer.artifactType, "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert.equal(referrer.verification.format, "sigstore-bundle");
    assert.equal(referrer.verification.valid, true);
    assert.equal(body.supply.signatures.state, "verified");
    assert.equal(body.supply.digest, digest);

    // The same report as the scan endpoint.
    const scan = await reader.get(`/api/v1/scan/art/app@${digest}`);
    assert.deepEqual(body.supply, scan.json());

    // Reading the page is not a pull: the tag's pull time stays unset (a /v2 GET sets it).
    await b.berth.registry.pulls.settled();
    const activity = async () => (await b.berth.registry.stores.metadataStore.listTagsForRetention("art/app", { limit: 10 })).find((t) => t.tag === "v1");
    assert.equal((await activity())?.pulledAt, undefined);
    assert.equal((await reader.get("/v2/art/app/manifests/v1", { accept: MT.ociManifest })).status, 200);
    await b.berth.registry.pulls.settled();
    assert.ok((await activity())?.pulledAt !== undefined, "a real pull is recorded");

    // The referrer page: its subject, no config fields for an empty config.
    const ref = (await page(reader, "art/app", bundle.artifact.digest)).json<Record<string, any>>();
    assert.equal(ref.subject.digest, digest);
    assert.equal(ref.artifactType, "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert.deepEqual(Object.keys(ref.config).sort(), ["digest", "mediaType", "size"]);
  });

  it("shows an index's children with their platforms, by digest, and counts their blobs in totalSize", async () => {
    const children = [hostileImage("amd64"), hostileImage("arm64")];
    for (const child of children) {
      for (const blob of child.blobs) await admin.pushBlob("art/multi", blob);
      await admin.pushManifest("art/multi", digestOf(child.manifest), child.manifest, MT.ociManifest);
    }
    const index = makeIndex(children.map((c) => ({ manifest: c.manifest, mediaType: MT.ociManifest })));
    await admin.pushManifest("art/multi", "1.0", index.manifest, index.mediaType);
    const res = await page(reader, "art/multi", index.digest);
    assert.equal(res.status, 200, res.text());
    const body = res.json<Record<string, any>>();
    assert.deepEqual(body.tags, ["1.0"]);
    assert.equal(body.config, undefined);
    assert.deepEqual(body.layers, []);
    assert.deepEqual(body.manifests.map((m: { platform: string }) => m.platform), ["linux/amd64", "linux/arm64"]);
    const childBytes = children.reduce((n, c) => n + c.manifest.length + c.blobs.reduce((s, x) => s + x.length, 0), 0);
    assert.equal(body.totalSize, index.manifest.length + childBytes);
  });

  it("shows an artifact's config as a descriptor only, with its artifact type", async () => {
    const cfg = json({ name: "chart", version: "1.0.0", description: HOSTILE[0] });
    const layer = randomBlob(50);
    await admin.pushBlob("art/chart", cfg);
    await admin.pushBlob("art/chart", layer);
    const manifest = json({ schemaVersion: 2, mediaType: MT.ociManifest, config: descriptor("application/vnd.cncf.helm.config.v1+json", cfg), layers: [descriptor("application/vnd.cncf.helm.chart.content.v1.tar+gzip", layer)] });
    await admin.pushManifest("art/chart", "1.0.0", manifest, MT.ociManifest);
    const body = (await page(reader, "art/chart", "1.0.0")).json<Record<string, any>>();
    assert.equal(body.artifactType, "application/vnd.cncf.helm.config.v1+json");
    assert.deepEqual(body.config, { digest: digestOf(cfg), mediaType: "application/vnd.cncf.helm.config.v1+json", size: cfg.length });
  });

  it("refuses callers who may not pull, and answers bad and unknown references with OCI errors", async () => {
    const image = hostileImage();
    for (const blob of image.blobs) await admin.pushBlob("art/err", blob);
    await admin.pushManifest("art/err", "v1", image.manifest, MT.ociManifest);
    assertError(await page(new AuthClient(b.url), "art/err", "v1"), 401, "UNAUTHORIZED");
    assertError(await page(new AuthClient(b.url, basic("otto", "otto-password")), "art/err", "v1"), 403, "DENIED");
    assertError(await page(reader, "art/none", "v1"), 404, "NAME_UNKNOWN");
    assertError(await page(reader, "art/err", "v2"), 404, "MANIFEST_UNKNOWN");
    assertError(await page(reader, "art/err", `sha256:${"0".repeat(64)}`), 404, "MANIFEST_UNKNOWN");
    assertError(await page(reader, "art/err", "-bad"), 400, "TAG_INVALID");
    assertError(await page(reader, "art/err", "sha256:abc"), 400, "DIGEST_INVALID");
    assertError(await page(reader, "Art/Err", "v1"), 400, "NAME_INVALID");
  });
});
