import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { RegistryClient } from "../../src/client/registry-client.js";
import type { Digest } from "../../src/oci/digest.js";
import type { GcOptions } from "../../src/registry/gc.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage, makeIndex, makeLayer, MediaTypes, sha256, type TestImage } from "../helpers/fixtures.js";
import { clientOf, pullBlob, pullManifest, pushBlob, pushImage, pushManifest } from "../helpers/push.js";
import { patchChunk, startUpload, withQuery } from "../helpers/upload-session.js";

/**
 * Garbage collection over a running server: pushes and deletes go through HTTP, sweeps run in the
 * same process. Runs on the embedded default, and on S3 + PostgreSQL with BERTH_TEST_BACKEND=s3-postgres.
 */
describe("garbage collection", () => {
  let berth: TestBerth;
  let client: RegistryClient;
  before(async () => {
    berth = await startBerth();
    client = clientOf(berth.url);
  });
  after(async () => {
    client.close();
    await berth.stop();
  });

  const gc = (options: Partial<GcOptions> = {}) =>
    berth.berth.registry.gc.run({ graceMs: 0, deleteUntagged: () => true, orphanReferrers: "delete", ...options });
  const stored = async (digest: string) => (await berth.berth.registry.stores.blobStore.stat(digest as Digest)) !== undefined;
  const repo = () => `gc/${randomUUID().slice(0, 8)}`;

  const push = (name: string, image: TestImage, ref: string) => pushImage(client, name, ref, image);

  async function assertPullable(name: string, ref: string, image: TestImage): Promise<void> {
    assert.deepEqual((await pullManifest(berth.url, name, ref))?.content, image.manifest, `${name}:${ref} manifest`);
    for (const [data, digest] of [[image.config, image.configDigest], ...image.layers.map((l, i) => [l, image.layerDigests[i]!] as const)] as const) {
      assert.deepEqual(await pullBlob(berth.url, name, digest), data, `${name} blob ${digest}`);
    }
  }

  const deleteRef = (name: string, ref: string) => fetch(`${berth.url}/v2/${name}/manifests/${ref}`, { method: "DELETE" });

  it("reclaims the blobs only a deleted image used and keeps every tagged image whole", async () => {
    const name = repo();
    const shared = makeLayer({ "shared.txt": randomUUID() });
    const a = makeImage({ layers: [shared, makeLayer({ "a.txt": randomUUID() })] });
    const b = makeImage({ layers: [shared, makeLayer({ "b.txt": randomUUID() })] });
    await push(name, a, "a");
    await push(name, b, "b");
    assert.equal((await deleteRef(name, a.manifestDigest)).status, 202);

    const report = await gc();
    assert.equal(report.skipped, undefined);
    const gone = [a.layerDigests[1]!, a.configDigest];
    for (const d of gone) {
      assert.ok(report.blobs.some((x) => x.digest === d), `${d} reported`);
      assert.equal(await stored(d), false, `${d} bytes deleted`);
      assert.equal((await fetch(`${berth.url}/v2/${name}/blobs/${d}`, { method: "HEAD" })).status, 404);
    }
    assert.ok(report.bytesReclaimed >= a.layers[1]!.length + a.config.length);
    assert.ok(await stored(sha256(shared)), "the shared layer stays");
    await assertPullable(name, "b", b);
  });

  it("keeps layers a push has uploaded but not yet referenced, for the grace period", async () => {
    const name = repo();
    const image = makeImage({ layers: [makeLayer({ "wip.txt": randomUUID() })] });
    for (const l of image.layers) await pushBlob(berth.url, name, l);
    await pushBlob(berth.url, name, image.config);
    await gc({ graceMs: 3_600_000 });
    await pushManifest(berth.url, name, "v1", image.manifest, image.manifestMediaType);
    await assertPullable(name, "v1", image);
  });

  it("fails a manifest PUT whose blob was swept with MANIFEST_BLOB_UNKNOWN rather than store it dangling", async () => {
    const name = repo();
    const image = makeImage({ layers: [makeLayer({ "late.txt": randomUUID() })] });
    for (const l of image.layers) await pushBlob(berth.url, name, l);
    await pushBlob(berth.url, name, image.config);
    await gc({ graceMs: 0 });
    await assert.rejects(client.putManifest(name, "v1", image.manifest, image.manifestMediaType), { status: 400, code: "MANIFEST_BLOB_UNKNOWN" });
    assert.equal(await client.manifest(name, "v1"), undefined);
    await push(name, image, "v1");
    await assertPullable(name, "v1", image);
  });

  it("never touches an upload in progress, which completes after the sweep", async () => {
    const name = repo();
    const data = Buffer.from(randomUUID().repeat(100));
    const location = await startUpload(berth.url, name);
    assert.equal((await patchChunk(location, data, 0)).status, 202);
    await gc();
    const res = await fetch(withQuery(location, { digest: sha256(data) }), { method: "PUT" });
    assert.equal(res.status, 201);
    assert.deepEqual(await pullBlob(berth.url, name, sha256(data)), data);
  });

  it("deletes untagged manifests only where asked, keeping an index's children while the index is tagged", async () => {
    const name = repo();
    const amd = makeImage({ platform: { architecture: "amd64" }, layers: [makeLayer({ "amd.txt": randomUUID() })] });
    const arm = makeImage({ platform: { architecture: "arm64" }, layers: [makeLayer({ "arm.txt": randomUUID() })] });
    await push(name, amd, amd.manifestDigest);
    await push(name, arm, arm.manifestDigest);
    const index = makeIndex([amd, arm].map((i) => ({ mediaType: i.manifestMediaType, digest: i.manifestDigest, size: i.manifest.length })));
    await pushManifest(berth.url, name, "multi", index.index, index.mediaType);

    await gc();
    await assertPullable(name, amd.manifestDigest, amd);
    await assertPullable(name, arm.manifestDigest, arm);

    assert.equal((await deleteRef(name, "multi")).status, 202);
    const kept = await gc({ deleteUntagged: (r) => r !== name });
    assert.ok(!kept.manifests.some((m) => m.repository === name), "delete-untagged is off for this repository");
    assert.equal((await fetch(`${berth.url}/v2/${name}/manifests/${index.digest}`)).status, 200);

    const report = await gc();
    const deleted = report.manifests.filter((m) => m.repository === name).map((m) => m.digest).sort();
    assert.deepEqual(deleted, [index.digest, amd.manifestDigest, arm.manifestDigest].sort());
    for (const d of [index.digest, amd.manifestDigest]) assert.equal((await fetch(`${berth.url}/v2/${name}/manifests/${d}`)).status, 404);
    assert.equal(await stored(amd.layerDigests[0]!), false);
  });

  it("removes referrers whose subject is gone when the policy says so", async () => {
    const name = repo();
    const image = makeImage({ layers: [makeLayer({ "signed.txt": randomUUID() })] });
    await push(name, image, "v1");
    const sigBlob = Buffer.from(`signature ${randomUUID()}`);
    await pushBlob(berth.url, name, sigBlob);
    await pushBlob(berth.url, name, Buffer.from("{}"));
    const signature = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        artifactType: "application/vnd.example.signature",
        config: { mediaType: MediaTypes.ociEmpty, digest: sha256("{}"), size: 2 },
        layers: [{ mediaType: "application/octet-stream", digest: sha256(sigBlob), size: sigBlob.length }],
        subject: { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: image.manifest.length },
      }),
    );
    const sigDigest = await pushManifest(berth.url, name, sha256(signature), signature, MediaTypes.ociManifest);

    await gc({ deleteUntagged: () => true });
    assert.equal((await fetch(`${berth.url}/v2/${name}/manifests/${sigDigest}`)).status, 200, "the subject is tagged");

    assert.equal((await deleteRef(name, image.manifestDigest)).status, 202);
    await gc({ deleteUntagged: () => false, orphanReferrers: "keep" });
    assert.equal((await fetch(`${berth.url}/v2/${name}/manifests/${sigDigest}`)).status, 200, "policy keep");
    const report = await gc({ deleteUntagged: () => false, orphanReferrers: "delete" });
    assert.ok(report.manifests.some((m) => m.digest === sigDigest));
    assert.equal((await fetch(`${berth.url}/v2/${name}/manifests/${sigDigest}`)).status, 404);
    assert.equal(await stored(sha256(sigBlob)), false);
  });

  it("reports in a dry run exactly what the real run then deletes, deleting nothing", async () => {
    const name = repo();
    const image = makeImage({ layers: [makeLayer({ "dry.txt": randomUUID() })] });
    await push(name, image, "v1");
    assert.equal((await deleteRef(name, "v1")).status, 202);
    // Other tests' leftovers are swept first, so the two runs below see only this image.
    await gc({ deleteUntagged: (r) => r !== name });

    const dry = await gc({ dryRun: true });
    assert.equal(dry.dryRun, true);
    await assertPullable(name, image.manifestDigest, image);
    const real = await gc();
    const key = (r: typeof dry) => ({
      manifests: r.manifests.map((m) => m.digest).sort(),
      blobs: r.blobs.map((b) => b.digest).sort(),
      bytes: r.bytesReclaimed,
      links: r.linksRemoved,
    });
    assert.deepEqual(key(dry), key(real));
    assert.deepEqual(real.manifests.map((m) => m.digest), [image.manifestDigest]);
    assert.deepEqual(real.blobs.map((b) => b.digest).sort(), [image.configDigest, image.layerDigests[0]!].sort());
  });

  it("runs one sweep at a time: a second one skips, or waits when asked", async () => {
    const lock = await berth.berth.registry.stores.metadataStore.tryLock("gc");
    assert.ok(lock);
    const skipped = await gc();
    assert.match(skipped.skipped ?? "", /another garbage collection is running/);
    const waiting = gc({ wait: true });
    await new Promise((r) => setTimeout(r, 300));
    await lock.release();
    assert.equal((await waiting).skipped, undefined);
  });

  it("finishes a deletion a killed sweep left behind before an upload of the same bytes commits", async () => {
    const name = repo();
    const data = Buffer.from(`orphaned ${randomUUID()}`);
    const digest = await pushBlob(berth.url, name, data);
    assert.equal((await fetch(`${berth.url}/v2/${name}/blobs/${digest}`, { method: "DELETE" })).status, 202);
    const { metadataStore } = berth.berth.registry.stores;
    assert.equal((await metadataStore.markBlobsDeleting([digest as Digest])).length, 1, "as a sweep killed after marking");

    const again = await client.pushBlob(name, data, { checkExists: false });
    assert.equal(again, digest);
    assert.deepEqual(await pullBlob(berth.url, name, digest), data);
    assert.deepEqual(await metadataStore.listDeletingBlobs(10), []);
    await gc({ graceMs: 3_600_000 });
    assert.deepEqual(await pullBlob(berth.url, name, digest), data, "freshly linked again, so kept");
  });
});
