import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { digestOf, type Digest } from "../../src/oci/digest.js";
import type { ManifestRecord, MetadataStore } from "../../src/storage/metadata-store.js";
import { addBlob } from "../helpers/store.js";
import { useContractStore } from "./contract-store.js";

/** The usage half of the MetadataStore contract (usage-store.ts), for every driver. */
export function describeUsageContract(
  driver: string,
  create: () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>,
): void {
  describe(`UsageStore contract: ${driver}`, () => {
    const store = useContractStore(create);

    const blob = () => digestOf(`usage-${randomUUID()}`);
    const manifest = (blobs: Digest[]): ManifestRecord => {
      const content = Buffer.from(JSON.stringify({ schemaVersion: 2, id: randomUUID(), blobs }));
      return { digest: digestOf(content), mediaType: "application/vnd.oci.image.manifest.v1+json", content, blobs, children: [] };
    };
    const push = async (repo: string, layers: [Digest, number][]) => {
      for (const [d, size] of layers) await addBlob(store, repo, d, size);
      const m = manifest(layers.map(([d]) => d));
      assert.equal((await store.putManifest(repo, m, ["t"])).ok, true);
      return m;
    };
    const repoRow = async (repo: string) => (await store.scopeUsage(repo)).repositories.find((r) => r.name === repo)!;

    it("counts a shared layer for both repositories, frees it with neither, and with the other once one lets go", async () => {
      const ns = `share${randomUUID().slice(0, 8)}`;
      const [shared, onlyA, onlyB] = [blob(), blob(), blob()];
      const ma = await push(`${ns}/a`, [[shared, 1000], [onlyA, 10]]);
      const mb = await push(`${ns}/b`, [[shared, 1000], [onlyB, 20]]);
      const a = await repoRow(`${ns}/a`);
      const b = await repoRow(`${ns}/b`);
      assert.deepEqual(
        { blobs: a.blobs, blobBytes: a.blobBytes, manifests: a.manifests, manifestBytes: a.manifestBytes },
        { blobs: 2, blobBytes: 1010, manifests: 1, manifestBytes: ma.content.length },
      );
      assert.equal(a.referencedBytes, 1010 + ma.content.length);
      assert.equal(a.freeableBytes, 10 + ma.content.length, "the shared layer is not freed by deleting a alone");
      assert.equal(b.referencedBytes, 1020 + mb.content.length);
      assert.equal(b.freeableBytes, 20 + mb.content.length);

      // The namespace counts the shared layer once, and all of it is freeable (nothing outside uses it).
      const whole = await store.scopeUsage(ns);
      assert.deepEqual(whole.repositories.map((r) => r.name), [`${ns}/a`, `${ns}/b`]);
      const manifests = ma.content.length + mb.content.length;
      assert.equal(whole.total.blobs, 3);
      assert.equal(whole.total.referencedBytes, 1030 + manifests);
      assert.equal(whole.total.freeableBytes, 1030 + manifests);
      assert.equal(await store.scopeBytes(ns), 1030 + manifests);

      // a drops its manifest and its links: b alone holds the shared layer now.
      assert.equal(await store.deleteManifest(`${ns}/a`, ma.digest), true);
      assert.equal(await store.unlinkBlob(`${ns}/a`, shared), true);
      assert.equal(await store.unlinkBlob(`${ns}/a`, onlyA), true);
      const after = await repoRow(`${ns}/b`);
      assert.equal(after.referencedBytes, 1020 + mb.content.length);
      assert.equal(after.freeableBytes, 1020 + mb.content.length, "the shared layer is freeable with b now");
      assert.equal((await repoRow(`${ns}/a`)).referencedBytes, 0);
    });

    it("counts a blob a manifest references even after its link is gone, and shared across namespaces as not freeable", async () => {
      const [x, y] = [`refx${randomUUID().slice(0, 8)}`, `refy${randomUUID().slice(0, 8)}`];
      const layer = blob();
      const m = await push(`${x}/app`, [[layer, 500]]);
      await store.unlinkBlob(`${x}/app`, layer);
      assert.equal((await repoRow(`${x}/app`)).referencedBytes, 500 + m.content.length, "still referenced by its manifest");
      await push(`${y}/app`, [[layer, 500]]);
      const usage = await store.scopeUsage(x);
      assert.equal(usage.total.referencedBytes, 500 + m.content.length);
      assert.equal(usage.total.freeableBytes, m.content.length, "another namespace references the layer");
    });

    it("scopes by whole path components: a prefix of a name is not its namespace; exact is the repository alone", async () => {
      const ns = `scope${randomUUID().slice(0, 8)}`;
      const [l1, l2, l3] = [blob(), blob(), blob()];
      await addBlob(store, ns, l1, 1);
      await addBlob(store, `${ns}/deep/er`, l2, 2);
      await addBlob(store, `${ns}x/other`, l3, 4);
      await addBlob(store, `${ns}-dash`, l3, 4);
      assert.deepEqual((await store.scopeUsage(ns)).repositories.map((r) => r.name), [ns, `${ns}/deep/er`]);
      assert.equal(await store.scopeBytes(ns), 3);
      assert.equal(await store.scopeBytes(ns, { exact: true }), 1);
      assert.equal(await store.scopeBytes(`${ns}/deep`), 2);
      assert.deepEqual((await store.scopeUsage(`${ns}/nothing`)).repositories, []);
      assert.equal((await store.scopeUsage(`${ns}/nothing`)).total.referencedBytes, 0);
      assert.deepEqual(await store.blobsInScope(ns, [l1, l2, l3, blob()]), [l1, l2]);
      assert.deepEqual(await store.blobsInScope(ns, [l1, l2], { exact: true }), [l1]);
    });

    it("sums the registry: stored once, referenced per repository, unreferenced, per namespace", async () => {
      const before = await store.registryUsage();
      const ns = `reg${randomUUID().slice(0, 8)}`;
      const [shared, lonely] = [blob(), blob()];
      const m1 = await push(`${ns}/one`, [[shared, 3000]]);
      const m2 = await push(`${ns}/two`, [[shared, 3000]]);
      await addBlob(store, `${ns}/one`, lonely, 7);
      await store.unlinkBlob(`${ns}/one`, lonely);
      const after = await store.registryUsage();
      const manifests = m1.content.length + m2.content.length;
      assert.equal(after.blobs - before.blobs, 2);
      assert.equal(after.blobBytes - before.blobBytes, 3007);
      assert.equal(after.unreferencedBlobs - before.unreferencedBlobs, 1);
      assert.equal(after.unreferencedBytes - before.unreferencedBytes, 7);
      assert.equal(after.manifestBytes - before.manifestBytes, manifests);
      assert.equal(after.repositories - before.repositories, 2);
      assert.equal(after.sumRepositoryBytes - before.sumRepositoryBytes, 6000 + manifests, "the shared layer once per repository");
      assert.deepEqual(after.namespaces.find((n) => n.namespace === ns), { namespace: ns, repositories: 2, referencedBytes: 3000 + manifests });
    });

    it("storageTotals counts live blobs once, repositories, manifests and tags, and follows deletes", async () => {
      const before = await store.storageTotals();
      const ns = `tot${randomUUID().slice(0, 8)}`;
      const shared = blob();
      const m1 = await push(`${ns}/one`, [[shared, 4000]]);
      const m2 = await push(`${ns}/two`, [[shared, 4000]]);
      assert.equal((await store.putManifest(`${ns}/one`, m1, ["t", "latest"])).ok, true);
      const mid = await store.storageTotals();
      assert.deepEqual(
        {
          blobs: mid.blobs - before.blobs,
          blobBytes: mid.blobBytes - before.blobBytes,
          repositories: mid.repositories - before.repositories,
          manifests: mid.manifests - before.manifests,
          manifestBytes: mid.manifestBytes - before.manifestBytes,
          tags: mid.tags - before.tags,
        },
        { blobs: 1, blobBytes: 4000, repositories: 2, manifests: 2, manifestBytes: m1.content.length + m2.content.length, tags: 3 },
      );
      assert.equal(await store.deleteTag(`${ns}/one`, "latest"), true);
      assert.equal(await store.deleteManifest(`${ns}/two`, m2.digest), true);
      const after = await store.storageTotals();
      assert.equal(after.tags - before.tags, 1, "the deleted tag and the deleted manifest's tag are gone");
      assert.equal(after.manifests - before.manifests, 1);
      assert.equal(after.blobs - before.blobs, 1, "blob bytes stay until garbage collection");
      for (const value of Object.values(after)) assert.equal(typeof value, "number");
    });
  });
}
