import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { digestOf, type Digest } from "../../src/oci/digest.js";
import type { ManifestRecord, MetadataStore } from "../../src/storage/metadata-store.js";
import { addBlob } from "../helpers/store.js";
import { useContractStore } from "./contract-store.js";

const IMAGE = "application/vnd.oci.image.manifest.v1+json";
const INDEX = "application/vnd.oci.image.index.v1+json";

function record(mediaType: string, blobs: Digest[] = [], children: Digest[] = [], extra: Partial<ManifestRecord> = {}): ManifestRecord {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, n: randomUUID(), blobs, children }));
  return { digest: digestOf(content), mediaType, content, blobs, children, ...extra };
}

/** The browse half of the MetadataStore contract (browse-store.ts, RetentionStore.countPulls), for every driver. */
export function describeBrowseContract(driver: string, create: () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>): void {
  describe(`BrowseStore contract: ${driver}`, () => {
    const store = useContractStore(create);
    const prefix = () => `br${randomUUID().slice(0, 8)}`;

    it("keeps each repository's size, counts and push time exact as blobs, manifests and tags come and go", async () => {
      const name = `${prefix()}/app`;
      const [l1, l2] = [digestOf(`l1${name}`), digestOf(`l2${name}`)];
      await addBlob(store, name, l1, 1000);
      await addBlob(store, name, l2, 200);
      let stats = (await store.repositoryStats(name))!;
      assert.deepEqual([stats.size, stats.tags, stats.manifests, stats.pushedAt], [1200, 0, 0, undefined], "links alone: size, never pushed");
      const before = Date.now();
      const a = record(IMAGE, [l1, l2]);
      const b = record(IMAGE, [l1]);
      await store.putManifest(name, a, ["v1", "latest"]);
      await store.putManifest(name, b, ["v2"]);
      stats = (await store.repositoryStats(name))!;
      assert.equal(stats.size, 1200 + a.content.length + b.content.length, "a shared layer counts once");
      assert.deepEqual([stats.tags, stats.manifests], [3, 2]);
      assert.ok(stats.pushedAt! >= before && stats.pushedAt! <= Date.now());
      const pushed = stats.pushedAt!;
      await sleep(5);
      await store.putManifest(name, b, ["latest"]);
      stats = (await store.repositoryStats(name))!;
      assert.ok(stats.pushedAt! > pushed, "moving a tag is a push");
      assert.equal(stats.tags, 3);
      await store.deleteTag(name, "v2");
      assert.equal((await store.repositoryStats(name))!.tags, 2);
      await store.deleteManifest(name, b.digest);
      stats = (await store.repositoryStats(name))!;
      assert.deepEqual([stats.size, stats.tags, stats.manifests], [1200 + a.content.length, 1, 1], "its tags go with it");
      await store.unlinkBlob(name, l2);
      assert.equal((await store.repositoryStats(name))!.size, 1000 + a.content.length);
      await store.deleteRepository(name);
      assert.equal(await store.repositoryStats(name), undefined);
      assert.equal(await store.repositoryStats(`${prefix()}/absent`), undefined);
    });

    it("lists repositories by name, push time or size, either way, a keyset page at a time, filtered by substring", async () => {
      const p = prefix();
      const names = [`${p}/c`, `${p}/a`, `${p}/b`, `${p}x/d`];
      for (const [i, name] of names.entries()) {
        await addBlob(store, name, digestOf(`${p}${i}`), (i + 1) * 100);
        await store.putManifest(name, record(IMAGE), ["t"]);
        await sleep(3);
      }
      const list = async (sort: "name" | "pushed" | "size", order: "asc" | "desc", contains = p) => {
        const all: string[] = [];
        let after;
        for (;;) {
          const page = await store.listRepositoryStats({ sort, order, contains, limit: 3, ...(after ? { after } : {}) });
          all.push(...page.map((r) => r.name));
          if (page.length < 3) return all;
          const last = page[page.length - 1]!;
          after = { value: sort === "size" ? last.size : sort === "pushed" ? last.pushedAt! : 0, name: last.name };
        }
      };
      assert.deepEqual(await list("name", "asc"), [`${p}/a`, `${p}/b`, `${p}/c`, `${p}x/d`]);
      assert.deepEqual(await list("name", "desc"), [`${p}x/d`, `${p}/c`, `${p}/b`, `${p}/a`]);
      assert.deepEqual(await list("pushed", "desc"), [`${p}x/d`, `${p}/b`, `${p}/a`, `${p}/c`]);
      assert.deepEqual(await list("pushed", "asc"), [`${p}/c`, `${p}/a`, `${p}/b`, `${p}x/d`]);
      assert.deepEqual(await list("size", "desc"), [`${p}x/d`, `${p}/b`, `${p}/a`, `${p}/c`]);
      assert.deepEqual(await list("size", "asc"), [`${p}/c`, `${p}/a`, `${p}/b`, `${p}x/d`]);
      assert.deepEqual(await list("name", "asc", `${p}x`), [`${p}x/d`]);
      assert.equal(await store.countRepositories(p), 4);
      assert.equal(await store.countRepositories(`${p}/`), 3);
      assert.ok((await store.countRepositories()) >= 4);
      const [first] = await store.listRepositoryStats({ sort: "name", order: "asc", contains: `${p}/a`, limit: 10 });
      assert.deepEqual([first!.name, first!.tags, first!.manifests], [`${p}/a`, 1, 1]);
      assert.ok(first!.size > 200 && first!.size < 400, "the blob and the manifest");
    });

    it("lists tags by push time or name with pull times and counts; counts pulls by tag and by digest", async () => {
      const name = `${prefix()}/tags`;
      const [a, b] = [record(IMAGE), record(IMAGE)];
      await store.putManifest(name, a, ["old", "shared"]);
      await sleep(3);
      await store.putManifest(name, b, ["new"]);
      const byPush = await store.listTagDetails(name, { sort: "pushed", order: "desc", limit: 10 });
      assert.equal(byPush[0]!.tag, "new");
      assert.deepEqual(byPush.slice(1).map((t) => t.tag).sort(), ["old", "shared"]);
      const page1 = await store.listTagDetails(name, { sort: "name", order: "asc", limit: 2 });
      assert.deepEqual(page1.map((t) => t.tag), ["new", "old"]);
      const page2 = await store.listTagDetails(name, { sort: "name", order: "asc", limit: 2, after: { value: 0, name: "old" } });
      assert.deepEqual(page2.map((t) => [t.tag, t.digest, t.pulls, t.pulledAt]), [["shared", a.digest, 0, undefined]]);
      assert.deepEqual((await store.listTagDetails(name, { sort: "name", order: "desc", limit: 10, contains: "e" })).map((t) => t.tag), ["shared", "new"]);
      assert.equal(await store.countTags(name), 3);
      assert.equal(await store.countTags(name, "ol"), 1);
      await store.countPulls([
        { repo: name, tag: "old", count: 3 },
        { repo: name, digest: a.digest, count: 2 },
        { repo: name, tag: "absent", count: 9 },
        { repo: `${name}-absent`, tag: "old", count: 9 },
      ]);
      await store.countPulls([{ repo: name, tag: "old", count: 1 }]);
      const pulls = Object.fromEntries((await store.listTagDetails(name, { sort: "name", order: "asc", limit: 10 })).map((t) => [t.tag, t.pulls]));
      assert.deepEqual(pulls, { new: 0, old: 6, shared: 2 });
      const pushedBefore = (await store.repositoryStats(name))!.pushedAt;
      await store.touchTagPull(name, "new", Date.now());
      assert.ok((await store.listTagDetails(name, { sort: "name", order: "asc", limit: 1 }))[0]!.pulledAt! > 0);
      assert.equal((await store.repositoryStats(name))!.pushedAt, pushedBefore, "pulls do not move the push time");
      assert.deepEqual(await store.listTagDetails(`${name}-absent`, { sort: "name", order: "asc", limit: 10 }), []);
    });

    it("lists untagged manifests newest first, leaving out referrers and an index's children", async () => {
      const name = `${prefix()}/untagged`;
      const child = record(IMAGE);
      await store.putManifest(name, child, []);
      const index = record(INDEX, [], [child.digest]);
      await store.putManifest(name, index, []);
      await sleep(3);
      const tagged = record(IMAGE);
      await store.putManifest(name, tagged, ["t"]);
      const signature = record(IMAGE, [], [], { subject: tagged.digest });
      await store.putManifest(name, signature, []);
      await sleep(3);
      const loose = record(IMAGE);
      await store.putManifest(name, loose, []);
      const all = await store.listUntaggedManifests(name, { limit: 10 });
      assert.deepEqual(all.map((m) => m.digest), [loose.digest, index.digest]);
      const rest = await store.listUntaggedManifests(name, { limit: 10, after: { value: all[0]!.createdAt, name: all[0]!.digest } });
      assert.deepEqual(rest.map((m) => m.digest), [index.digest]);
    });

    it("sums a manifest with its children and the distinct blobs they reference", async () => {
      const name = `${prefix()}/sizes`;
      const [shared, amd, arm, config] = ["shared", "amd", "arm", "config"].map((s) => digestOf(`${s}${name}`)) as [Digest, Digest, Digest, Digest];
      await addBlob(store, name, shared, 1000);
      await addBlob(store, name, amd, 100);
      await addBlob(store, name, arm, 10);
      await addBlob(store, name, config, 1);
      const c1 = record(IMAGE, [config, shared, amd]);
      const c2 = record(IMAGE, [config, shared, arm]);
      await store.putManifest(name, c1, []);
      await store.putManifest(name, c2, []);
      const index = record(INDEX, [], [c1.digest, c2.digest], { artifactType: "application/x-test" });
      await store.putManifest(name, index, ["multi"]);
      const summaries = await store.manifestSummaries(name, [index.digest, c1.digest, digestOf("absent")]);
      const by = new Map(summaries.map((s) => [s.digest, s]));
      assert.equal(summaries.length, 2);
      assert.equal(by.get(c1.digest)!.totalSize, c1.content.length + 1101);
      const i = by.get(index.digest)!;
      assert.equal(i.totalSize, index.content.length + c1.content.length + c2.content.length + 1111);
      assert.deepEqual([i.mediaType, i.artifactType, i.size, i.content.equals(index.content)], [INDEX, "application/x-test", index.content.length, true]);
      assert.deepEqual(await store.manifestSummaries(name, []), []);
    });
  });
}
