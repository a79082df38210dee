import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { digestOf, type Digest } from "../../src/oci/digest.js";
import type { ManifestRecord, MetadataStore } from "../../src/storage/metadata-store.js";
import { addBlob } from "../helpers/store.js";
import { useContractStore } from "./contract-store.js";

/** The garbage-collection half of the MetadataStore contract (lifecycle-store.ts), for every driver. */
export function describeLifecycleContract(
  driver: string,
  create: () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>,
): void {
  describe(`LifecycleStore contract: ${driver}`, () => {
    const store = useContractStore(create);

    let seq = 0;
    const blob = () => digestOf(`gc-blob-${++seq}-${randomUUID()}`);
    const manifest = (blobs: Digest[], extra: Partial<ManifestRecord> = {}): ManifestRecord => {
      const content = Buffer.from(JSON.stringify({ schemaVersion: 2, n: ++seq, blobs }));
      return { digest: digestOf(content), mediaType: "application/vnd.oci.image.manifest.v1+json", content, blobs, children: [], ...extra };
    };
    const session = async (repo: string) => {
      const id = randomUUID();
      await store.createUpload({ id, repository: repo, algorithm: "sha256", createdAt: Date.now(), updatedAt: Date.now() });
      return id;
    };
    const unreferenced = async () => (await store.listUnreferencedBlobs({ limit: 100_000 })).map((b) => b.digest);
    const future = () => Date.now() + 60_000;

    it("keeps a blob while a link, a reference or a claim holds it, and lists it once nothing does", async () => {
      const d = blob();
      await addBlob(store, "keep/a", d, 9);
      assert.ok(!(await unreferenced()).includes(d), "linked");
      const m = manifest([d]);
      assert.equal((await store.putManifest("keep/a", m, [])).ok, true);
      assert.deepEqual(await store.unlinkIfUnreferenced("keep/a", [d], future()), [], "referenced by a manifest of the repo");
      assert.equal(await store.deleteManifestIfUnreachable("keep/a", m.digest, future()), true);
      const other = blob();
      await addBlob(store, "keep/a", other, 4);
      assert.deepEqual(await store.unlinkIfUnreferenced("keep/a", [other], 0), [], "too recent");
      assert.deepEqual((await store.unlinkIfUnreferenced("keep/a", [d, other, blob()], future())).sort(), [d, other].sort());
      assert.deepEqual((await store.listUnreferencedBlobs({ limit: 100_000 })).filter((b) => b.digest === d), [{ digest: d, size: 9 }]);

      const id = await session("keep/b");
      assert.equal(await store.claimBlob(id, d, 9), true);
      assert.ok(!(await unreferenced()).includes(d), "claimed by an upload");
      assert.deepEqual(await store.markBlobsDeleting([d]), [], "a claimed blob is never marked");
      await store.deleteUpload(id);
      assert.ok((await unreferenced()).includes(d));
    });

    it("marks only unreferenced blobs, refuses claims and links while deleting, and forgets them", async () => {
      const kept = blob();
      const gone = blob();
      await addBlob(store, "mark/a", kept, 1);
      await addBlob(store, "mark/a", gone, 2);
      await store.unlinkBlob("mark/a", gone);
      const marked = await store.markBlobsDeleting([kept, gone]);
      assert.deepEqual(marked, [{ digest: gone, size: 2 }]);
      assert.ok((await store.listDeletingBlobs(100)).some((b) => b.digest === gone));
      assert.equal(await store.getBlob(gone), undefined, "a deleting blob is not offered for mounts");
      assert.equal(await store.linkBlob("mark/b", gone), undefined);
      const id = await session("mark/b");
      assert.equal(await store.claimBlob(id, gone, 2), false, "an upload waits for the sweep");
      await store.forgetBlobs([gone, kept]);
      assert.deepEqual(await store.getBlob(kept), { size: 1 }, "forgetBlobs leaves live rows alone");
      assert.equal(await store.claimBlob(id, gone, 2), true, "claimable again once forgotten");
      assert.equal(await store.linkBlob("mark/b", gone), 2);
      await store.deleteUpload(id);
    });

    it("lets a manifest PUT racing a sweep fail with the blob it misses", async () => {
      const d = blob();
      await addBlob(store, "race/a", d, 3);
      await store.unlinkBlob("race/a", d);
      await store.markBlobsDeleting([d]);
      const result = await store.putManifest("race/a", manifest([d]), ["v1"]);
      assert.deepEqual(result, { ok: false, missingBlob: d });
      assert.equal(await store.getManifestByTag("race/a", "v1"), undefined);
      await store.forgetBlobs([d]);
    });

    it("deletes a manifest only when nothing reaches it and it is older than the cutoff", async () => {
      const d = blob();
      await addBlob(store, "reach/a", d, 1);
      const child = manifest([d]);
      const index = manifest([], { children: [child.digest], mediaType: "application/vnd.oci.image.index.v1+json" });
      const referrer = manifest([d], { subject: child.digest });
      for (const m of [child, index, referrer]) assert.equal((await store.putManifest("reach/a", m, [])).ok, true);
      await store.putManifest("reach/a", index, ["latest"]);
      assert.equal(await store.deleteManifestIfUnreachable("reach/a", child.digest, future()), false, "listed by an index");
      assert.equal(await store.deleteManifestIfUnreachable("reach/a", index.digest, future()), false, "tagged");
      assert.equal(await store.deleteManifestIfUnreachable("reach/a", index.digest, 0), false, "too recent");
      await store.deleteTag("reach/a", "latest");
      assert.equal(await store.deleteManifestIfUnreachable("reach/a", referrer.digest, future()), false, "its subject is here");
      assert.equal(await store.deleteManifestIfUnreachable("reach/a", index.digest, future()), true);
      assert.equal(await store.deleteManifestIfUnreachable("reach/a", child.digest, future()), true);
      assert.equal(await store.deleteManifestIfUnreachable("reach/a", referrer.digest, future()), true, "an orphan now");
      assert.deepEqual(await store.listManifestNodes("reach/a", { limit: 10 }), []);
    });

    it("lists manifest nodes with tags, blobs, children and subject", async () => {
      const d = blob();
      await addBlob(store, "nodes/a", d, 1);
      const child = manifest([d]);
      const index = manifest([], { children: [child.digest] });
      const referrer = manifest([], { subject: child.digest });
      await store.putManifest("nodes/a", child, []);
      await store.putManifest("nodes/a", index, ["v1"]);
      await store.putManifest("nodes/a", referrer, []);
      const nodes = new Map((await store.listManifestNodes("nodes/a", { limit: 10 })).map((n) => [n.digest, n]));
      assert.equal(nodes.size, 3);
      assert.deepEqual(nodes.get(child.digest)?.blobs, [d]);
      assert.equal(nodes.get(child.digest)?.tagged, false);
      assert.deepEqual(nodes.get(index.digest)?.children, [child.digest]);
      assert.equal(nodes.get(index.digest)?.tagged, true);
      assert.equal(nodes.get(referrer.digest)?.subject, child.digest);
      const links = await store.listLinks("nodes/a", { limit: 10 });
      assert.deepEqual(links.map((l) => [l.digest, l.size]), [[d, 1]]);
      assert.ok(Math.abs(links[0]!.createdAt - Date.now()) < 60_000);
    });

    it("reports who keeps a blob alive, for a batch of digests, live blobs only", async () => {
      const d = blob();
      await addBlob(store, "users/a", d, 1);
      await addBlob(store, "users/c", d, 1);
      const m = manifest([d]);
      await store.putManifest("users/a", m, []);
      const id = await session("users/b");
      await store.claimBlob(id, d, 1);
      const bare = blob();
      const bareId = await session("users/b");
      await store.claimBlob(bareId, bare, 7);
      await store.deleteUpload(bareId);
      const gone = blob();
      await addBlob(store, "users/a", gone, 3);
      await store.unlinkBlob("users/a", gone);
      assert.equal((await store.markBlobsDeleting([gone])).length, 1);

      const users = await store.blobUsers([d, bare, gone, blob()]);
      assert.deepEqual([...users.keys()].sort(), [d, bare].sort(), "deleting and unknown blobs are left out");
      const u = users.get(d)!;
      assert.equal(u.size, 1);
      assert.deepEqual(u.links.map((l) => l.repository), ["users/a", "users/c"]);
      assert.ok(u.links.every((l) => typeof l.createdAt === "number" && Math.abs(l.createdAt - Date.now()) < 60_000));
      assert.deepEqual(u.references, [{ repository: "users/a", manifest: m.digest }]);
      assert.equal(u.claimed, true);
      assert.deepEqual(users.get(bare), { size: 7, links: [], references: [], claimed: false });
      assert.equal((await store.blobUsers([])).size, 0);
      await store.deleteUpload(id);
      await store.forgetBlobs([gone]);
    });

    it("gives a named lock to one holder at a time", async () => {
      const name = `lock-${randomUUID()}`;
      const first = await store.tryLock(name);
      assert.ok(first);
      assert.equal(await store.tryLock(name), undefined);
      assert.ok(await store.tryLock(`${name}-other`).then((l) => l?.release().then(() => true)));
      await first.release();
      const second = await store.tryLock(name);
      assert.ok(second, "free again after release");
      await second.release();
    });
  });
}
