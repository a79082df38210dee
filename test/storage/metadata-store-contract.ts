import assert from "node:assert/strict";
import { addBlob } from "../helpers/store.js";
import { describe, it } from "node:test";
import { digestOf, type Digest } from "../../src/oci/digest.js";
import type { ManifestRecord, MetadataStore } from "../../src/storage/metadata-store.js";
import { useContractStore } from "./contract-store.js";

/** The behaviour every MetadataStore driver must show. `create` returns a fresh, empty store. */
export function describeMetadataStoreContract(
  driver: string,
  create: () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>,
): void {
  describe(`MetadataStore contract: ${driver}`, () => {
    const store = useContractStore(create);

    let seq = 0;
    const blob = () => digestOf(`blob-${++seq}`);
    const manifest = (blobs: Digest[], extra: Partial<ManifestRecord> = {}): ManifestRecord => {
      const content = Buffer.from(JSON.stringify({ schemaVersion: 2, n: ++seq, blobs }));
      return { digest: digestOf(content), mediaType: "application/vnd.oci.image.manifest.v1+json", content, blobs, children: [], ...extra };
    };

    it("links blobs per repository", async () => {
      const d = blob();
      assert.equal(await store.getBlobLink("links/a", d), undefined);
      await addBlob(store, "links/a", d, 42);
      await addBlob(store, "links/a", d, 42);
      assert.deepEqual(await store.getBlobLink("links/a", d), { size: 42 });
      assert.equal(await store.getBlobLink("links/b", d), undefined, "a link in one repository is not a link in another");
      assert.deepEqual(await store.getBlob(d), { size: 42 });
      assert.equal(await store.repositoryExists("links/a"), true);
      assert.equal(await store.unlinkBlob("links/a", d), true);
      assert.equal(await store.unlinkBlob("links/a", d), false);
      assert.equal(await store.getBlobLink("links/a", d), undefined);
    });

    it("creates an empty repository once, listed like any other", async () => {
      assert.equal(await store.createRepository("empty/one"), true);
      assert.equal(await store.createRepository("empty/one"), false, "a second create changes nothing");
      assert.equal(await store.repositoryExists("empty/one"), true);
      assert.deepEqual(await store.listRepositories({ last: "empty/", limit: 10 }).then((r) => r.filter((n) => n.startsWith("empty/"))), ["empty/one"]);
      assert.deepEqual(await store.listTags("empty/one", { limit: 10 }), []);
      const d = blob();
      await addBlob(store, "empty/one", d, 5);
      assert.deepEqual(await store.getBlobLink("empty/one", d), { size: 5 }, "pushes go into it as usual");
      await addBlob(store, "empty/two", d, 5);
      assert.equal(await store.createRepository("empty/two"), false, "a repository a push created exists");
    });

    it("stores a manifest with its tags atomically and returns its exact bytes", async () => {
      const layer = blob();
      await addBlob(store, "m/app", layer, 10);
      const record = manifest([layer], { annotations: { a: "b" } });
      assert.deepEqual(await store.putManifest("m/app", record, ["v1", "latest"]), { ok: true, created: true });
      const byTag = await store.getManifestByTag("m/app", "v1");
      assert.equal(byTag?.digest, record.digest);
      assert.deepEqual(byTag?.content, record.content);
      assert.equal(byTag?.mediaType, record.mediaType);
      assert.equal((await store.getManifest("m/app", record.digest))?.digest, record.digest);
      assert.deepEqual(await store.putManifest("m/app", record, []), { ok: true, created: false });
    });

    it("refuses a manifest whose blob is not linked, writing nothing", async () => {
      const missing = blob();
      const record = manifest([missing]);
      assert.deepEqual(await store.putManifest("m/refused", record, ["t"]), { ok: false, missingBlob: missing });
      assert.equal(await store.getManifest("m/refused", record.digest), undefined);
      assert.equal(await store.getManifestByTag("m/refused", "t"), undefined);
      assert.equal(await store.repositoryExists("m/refused"), false, "not even the repository is created");
    });

    it("refuses an index whose child manifest is absent", async () => {
      const child = manifest([]);
      const index = manifest([], { children: [child.digest], mediaType: "application/vnd.oci.image.index.v1+json" });
      assert.deepEqual(await store.putManifest("m/index", index, []), { ok: false, missingManifest: child.digest });
      await store.putManifest("m/index", child, []);
      assert.deepEqual(await store.putManifest("m/index", index, ["multi"]), { ok: true, created: true });
    });

    it("lists the indexes of a repository that list a manifest, and no others", async () => {
      const child = manifest([]);
      const other = manifest([]);
      const index = (children: Digest[]) => manifest([], { children, mediaType: "application/vnd.oci.image.index.v1+json" });
      const both = index([child.digest, other.digest]);
      const only = index([child.digest]);
      const unrelated = index([other.digest]);
      for (const record of [child, other, both, only, unrelated]) assert.equal((await store.putManifest("parents/app", record, [])).ok, true);
      await store.putManifest("parents/copy", child, []);
      await store.putManifest("parents/copy", index([child.digest, other.digest]), []);
      assert.deepEqual(await store.listParentManifests("parents/app", child.digest), [both.digest, only.digest].sort());
      assert.deepEqual(await store.listParentManifests("parents/app", both.digest), [], "an index nobody lists has no parent");
      assert.deepEqual(await store.listParentManifests("parents/none", child.digest), [], "another repository's indexes do not count");
      await store.deleteManifest("parents/app", only.digest);
      assert.deepEqual(await store.listParentManifests("parents/app", child.digest), [both.digest], "a deleted index is no parent");
    });

    it("stores a pull-through cache's manifest before what it references (lazyReferences), and a later child fills in", async () => {
      const layer = blob();
      const child = manifest([layer]);
      const index = manifest([], { children: [child.digest], mediaType: "application/vnd.oci.image.index.v1+json" });
      assert.deepEqual(await store.putManifest("cache.io/lazy", index, ["v1"], { lazyReferences: true }), { ok: true, created: true });
      assert.equal((await store.getManifestByTag("cache.io/lazy", "v1"))?.digest, index.digest);
      assert.deepEqual(await store.putManifest("cache.io/lazy", child, [], { lazyReferences: true }), { ok: true, created: true });
      assert.equal(await store.getBlobLink("cache.io/lazy", layer), undefined, "the layer comes when it is pulled");
      await addBlob(store, "cache.io/lazy", layer, 7);
      assert.deepEqual(await store.getBlobLink("cache.io/lazy", layer), { size: 7 });
    });

    it("moves tags, deletes tags alone, and deletes manifests with their tags", async () => {
      const one = manifest([]);
      const two = manifest([]);
      await store.putManifest("m/tags", one, ["stable", "keep"]);
      await store.putManifest("m/tags", two, ["stable"]);
      assert.equal((await store.getManifestByTag("m/tags", "stable"))?.digest, two.digest);
      assert.equal(await store.deleteTag("m/tags", "keep"), true);
      assert.equal(await store.deleteTag("m/tags", "keep"), false);
      assert.ok(await store.getManifest("m/tags", one.digest), "deleting a tag keeps the manifest");
      assert.equal(await store.deleteManifest("m/tags", two.digest), true);
      assert.equal(await store.getManifestByTag("m/tags", "stable"), undefined);
      assert.equal(await store.deleteManifest("m/tags", two.digest), false);
      assert.deepEqual(await store.listTags("m/tags", { limit: 10 }), []);
    });

    it("lists tags and repositories in byte order, after `last`, at most `limit`", async () => {
      const m = manifest([]);
      await store.putManifest("list/x", m, ["b", "A", "a", "c", "a1"]);
      assert.deepEqual(await store.listTags("list/x", { limit: 10 }), ["A", "a", "a1", "b", "c"]);
      assert.deepEqual(await store.listTags("list/x", { limit: 2, last: "a" }), ["a1", "b"]);
      await addBlob(store, "list/y", blob(), 1);
      await addBlob(store, "list/w", blob(), 1);
      const repos = await store.listRepositories({ limit: 100, last: "list/" });
      assert.deepEqual(repos.filter((r) => r.startsWith("list/")), ["list/w", "list/x", "list/y"]);
      assert.deepEqual(await store.listRepositories({ limit: 1, last: "list/w" }), ["list/x"]);
    });

    it("finds referrers by subject, filtered by artifact type", async () => {
      const subject = digestOf("subject");
      const sig = manifest([], { subject, artifactType: "application/vnd.example.sig", annotations: { k: "v" } });
      const sbom = manifest([], { subject, artifactType: "application/spdx+json" });
      await store.putManifest("ref/app", sig, []);
      await store.putManifest("ref/app", sbom, []);
      const all = await store.listReferrers("ref/app", subject);
      assert.equal(all.length, 2);
      const found = all.find((r) => r.digest === sig.digest);
      assert.deepEqual(found, {
        digest: sig.digest,
        mediaType: sig.mediaType,
        size: sig.content.length,
        artifactType: "application/vnd.example.sig",
        annotations: { k: "v" },
      });
      const filtered = await store.listReferrers("ref/app", subject, "application/spdx+json");
      assert.deepEqual(filtered.map((r) => r.digest), [sbom.digest]);
      assert.deepEqual(await store.listReferrers("ref/other", subject), []);
    });

    it("enumerates a repository's blob links, manifests and tags page by page", async () => {
      const [b1, b2, b3] = [blob(), blob(), blob()].sort() as [Digest, Digest, Digest];
      for (const [i, d] of [b1, b2, b3].entries()) await addBlob(store, "enum/app", d, i + 1);
      assert.deepEqual(await store.listBlobLinks("enum/app", { limit: 2 }), [{ digest: b1, size: 1 }, { digest: b2, size: 2 }]);
      assert.deepEqual(await store.listBlobLinks("enum/app", { limit: 2, last: b2 }), [{ digest: b3, size: 3 }]);
      const [m1, m2] = [manifest([b1]), manifest([b2])].sort((x, y) => (x.digest < y.digest ? -1 : 1)) as [ManifestRecord, ManifestRecord];
      await store.putManifest("enum/app", m1, ["one"]);
      await store.putManifest("enum/app", m2, ["two", "deux"]);
      const page = await store.listManifests("enum/app", { limit: 10 });
      assert.deepEqual(page.map((m) => m.digest), [m1.digest, m2.digest]);
      assert.deepEqual(page[0]!.content, m1.content);
      assert.deepEqual((await store.listManifests("enum/app", { limit: 10, last: m1.digest })).map((m) => m.digest), [m2.digest]);
      assert.deepEqual(await store.listTagDigests("enum/app", { limit: 2 }), [
        { tag: "deux", digest: m2.digest },
        { tag: "one", digest: m1.digest },
      ]);
      assert.deepEqual(await store.listTagDigests("enum/app", { limit: 5, last: "one" }), [{ tag: "two", digest: m2.digest }]);
      assert.deepEqual(await store.listBlobLinks("enum/none", { limit: 5 }), []);
    });

    it("keeps upload sessions and finds stale ones", async () => {
      await store.createUpload({ id: "u-old", repository: "up/a", algorithm: "sha256", createdAt: 1000, updatedAt: 1000 });
      await store.createUpload({ id: "u-new", repository: "up/a", algorithm: "sha512", createdAt: 5000, updatedAt: 5000 });
      assert.equal((await store.getUpload("u-new"))?.algorithm, "sha512");
      assert.deepEqual((await store.listStaleUploads(2000, 10)).map((u) => u.id), ["u-old"]);
      await store.touchUpload("u-old", 9000);
      assert.deepEqual(await store.listStaleUploads(2000, 10), []);
      await store.deleteUpload("u-old");
      assert.equal(await store.getUpload("u-old"), undefined);
    });

    it("never moves an immutable tag, writing nothing when asked to, but re-points it at the same manifest", async () => {
      const one = manifest([]);
      const two = manifest([]);
      const immutableTags = ["v1"];
      assert.deepEqual(await store.putManifest("imm/app", one, ["v1", "latest"], { immutableTags }), { ok: true, created: true });
      assert.deepEqual(await store.putManifest("imm/app", one, ["v1"], { immutableTags }), { ok: true, created: false });
      assert.deepEqual(await store.putManifest("imm/app", two, ["latest", "v1", "v2"], { immutableTags }), { ok: false, immutableTag: "v1" });
      assert.equal((await store.getManifestByTag("imm/app", "v1"))?.digest, one.digest);
      assert.equal((await store.getManifestByTag("imm/app", "latest"))?.digest, one.digest, "no other tag moved either");
      assert.equal(await store.getManifestByTag("imm/app", "v2"), undefined);
      assert.equal(await store.getManifest("imm/app", two.digest), undefined, "nor was the manifest stored");
      assert.deepEqual(await store.putManifest("imm/app", two, ["v1"]), { ok: true, created: true }, "without the option, tags move");
      assert.equal((await store.getManifestByTag("imm/app", "v1"))?.digest, two.digest);
    });

    it("lets exactly one of several concurrent pushes create an immutable tag", async () => {
      const records = Array.from({ length: 8 }, () => manifest([]));
      const results = await Promise.all(records.map((r) => store.putManifest("imm/race", r, ["v1"], { immutableTags: ["v1"] })));
      const winners = records.filter((_, i) => results[i]!.ok);
      assert.equal(winners.length, 1, JSON.stringify(results));
      for (const [i, result] of results.entries()) {
        if (!result.ok) assert.deepEqual(result, { ok: false, immutableTag: "v1" });
        else assert.equal(records[i], winners[0]);
      }
      assert.equal((await store.getManifestByTag("imm/race", "v1"))?.digest, winners[0]!.digest);
      assert.equal((await store.listManifests("imm/race", { limit: 10 })).length, 1, "the losers stored nothing");
    });

    it("lists repositories with their tag and manifest counts, all or one namespace's", async () => {
      const [a, b] = [manifest([]), manifest([])];
      await store.putManifest("sum/app", a, ["v1", "latest"]);
      await store.putManifest("sum/app", b, []);
      await store.putManifest("sum", a, ["x"]);
      await store.putManifest("sum0/other", a, []);
      await store.putManifest("summary/app", a, []);
      await addBlob(store, "sum/links-only", blob(), 3);
      assert.deepEqual(await store.listRepositorySummaries({ limit: 10 }, "sum"), [
        { name: "sum", tags: 1, manifests: 1 },
        { name: "sum/app", tags: 2, manifests: 2 },
        { name: "sum/links-only", tags: 0, manifests: 0 },
      ], "the namespace is the first path segment: not sum0/…, not summary/…");
      assert.deepEqual(await store.listRepositorySummaries({ limit: 1, last: "sum" }, "sum"), [{ name: "sum/app", tags: 2, manifests: 2 }]);
      const all = await store.listRepositorySummaries({ limit: 100, last: "sum" });
      assert.deepEqual(all.slice(0, 4).map((r) => r.name), ["sum/app", "sum/links-only", "sum0/other", "summary/app"]);
      assert.deepEqual(await store.listRepositorySummaries({ limit: 10 }, "sum-none"), []);
    });

    it("deletes a repository whole, leaving its blobs for GC and other repositories untouched", async () => {
      const [own, shared] = [blob(), blob()];
      await addBlob(store, "rmrepo/app", own, 5);
      await addBlob(store, "rmrepo/app", shared, 6);
      await addBlob(store, "rmrepo/keep", shared, 6);
      const child = manifest([own, shared]);
      const index = manifest([], { children: [child.digest], mediaType: "application/vnd.oci.image.index.v1+json" });
      await store.putManifest("rmrepo/app", child, ["child"]);
      await store.putManifest("rmrepo/app", index, ["v1", "latest"]);
      await store.putManifest("rmrepo/keep", manifest([shared]), ["v1"]);

      assert.deepEqual(await store.deleteRepository("rmrepo/app"), { ok: true, tags: 3, manifests: 2, links: 2 });
      assert.equal(await store.repositoryExists("rmrepo/app"), false);
      assert.deepEqual(await store.listRepositorySummaries({ limit: 10 }, "rmrepo"), [{ name: "rmrepo/keep", tags: 1, manifests: 1 }]);
      assert.equal(await store.getManifestByTag("rmrepo/app", "v1"), undefined);
      assert.equal(await store.getManifest("rmrepo/app", child.digest), undefined);
      assert.equal(await store.getBlobLink("rmrepo/app", own), undefined);
      assert.deepEqual(await store.getBlobLink("rmrepo/keep", shared), { size: 6 }, "another repository's link stays");
      assert.deepEqual(await store.getBlob(own), { size: 5 }, "the bytes' row stays for garbage collection");
      const unreferenced = (await store.listUnreferencedBlobs({ limit: 1000 })).map((b) => b.digest);
      assert.ok(unreferenced.includes(own), "the deleted repository's own blob is now garbage");
      assert.ok(!unreferenced.includes(shared), "a blob another repository uses is not");
      assert.deepEqual(await store.deleteRepository("rmrepo/app"), { ok: false, missing: true });

      // A push after the delete starts afresh: the links made before it are gone.
      assert.deepEqual(await store.putManifest("rmrepo/app", manifest([own]), ["v2"]), { ok: false, missingBlob: own });
      await addBlob(store, "rmrepo/app", own, 5);
      assert.deepEqual(await store.putManifest("rmrepo/app", manifest([own]), ["v2"]), { ok: true, created: true });
      assert.deepEqual(await store.listTags("rmrepo/app", { limit: 10 }), ["v2"]);
    });

    it("refuses to delete a repository holding a protected tag, deleting nothing", async () => {
      const layer = blob();
      await addBlob(store, "rmprot/app", layer, 1);
      await store.putManifest("rmprot/app", manifest([layer]), ["1.0.0", "latest"]);
      const asked: string[] = [];
      const isProtected = (tag: string) => (asked.push(tag), tag === "1.0.0");
      assert.deepEqual(await store.deleteRepository("rmprot/app", { isProtected }), { ok: false, protectedTag: "1.0.0" });
      assert.ok(asked.includes("1.0.0"));
      assert.deepEqual(await store.listTags("rmprot/app", { limit: 10 }), ["1.0.0", "latest"]);
      assert.deepEqual(await store.getBlobLink("rmprot/app", layer), { size: 1 });
      assert.deepEqual(await store.deleteRepository("rmprot/app", { isProtected: () => false }), { ok: true, tags: 2, manifests: 1, links: 1 });
    });

    it("answers ping", async () => {
      await store.ping();
    });
  });
}
