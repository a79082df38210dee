import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { digestOf } from "../../src/oci/digest.js";
import type { ManifestRecord, MetadataStore } from "../../src/storage/metadata-store.js";
import { PULL_RESOLUTION_MS } from "../../src/storage/retention-store.js";
import { useContractStore } from "./contract-store.js";

/** The retention half of the MetadataStore contract (retention-store.ts), for every driver. */
export function describeRetentionContract(
  driver: string,
  create: () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>,
): void {
  describe(`RetentionStore contract: ${driver}`, () => {
    const store = useContractStore(create);

    const manifest = (): ManifestRecord => {
      const content = Buffer.from(JSON.stringify({ schemaVersion: 2, n: randomUUID() }));
      return { digest: digestOf(content), mediaType: "application/vnd.oci.image.manifest.v1+json", content, blobs: [], children: [] };
    };
    const repo = () => `ret/${randomUUID().slice(0, 8)}`;
    const activity = async (name: string, tag: string) =>
      (await store.listTagsForRetention(name, { limit: 1000 })).find((t) => t.tag === tag);

    it("lists tags by name, a page at a time, with their manifest and push time, never pulled", async () => {
      const name = repo();
      const [a, b] = [manifest(), manifest()];
      const before = Date.now();
      await store.putManifest(name, a, ["v1", "v2", "latest"]);
      await store.putManifest(name, b, ["v3"]);
      const listed = await store.listTagsForRetention(name, { limit: 1000 });
      assert.deepEqual(listed.map((t) => [t.tag, t.digest]), [["latest", a.digest], ["v1", a.digest], ["v2", a.digest], ["v3", b.digest]]);
      for (const t of listed) {
        assert.ok(t.pushedAt >= before && t.pushedAt <= Date.now(), `${t.tag} pushedAt`);
        assert.equal(typeof t.pushedAt, "number");
        assert.equal(t.pulledAt, undefined);
      }
      assert.deepEqual((await store.listTagsForRetention(name, { limit: 2, last: "v1" })).map((t) => t.tag), ["v2", "v3"]);
      assert.deepEqual(await store.listTagsForRetention("ret/absent", { limit: 10 }), []);
    });

    it("moves the push time when a tag moves to another manifest, not on an identical re-push", async () => {
      const name = repo();
      const [a, b] = [manifest(), manifest()];
      await store.putManifest(name, a, ["t"]);
      const first = (await activity(name, "t"))!.pushedAt;
      await sleep(5);
      await store.putManifest(name, a, ["t"]);
      assert.equal((await activity(name, "t"))!.pushedAt, first, "same manifest: unchanged");
      await store.putManifest(name, b, ["t"]);
      const moved = (await activity(name, "t"))!;
      assert.equal(moved.digest, b.digest);
      assert.ok(moved.pushedAt > first, "moved: newer");
    });

    it("records a pull once per resolution window, never backwards, and ignores unknown tags", async () => {
      const name = repo();
      await store.putManifest(name, manifest(), ["t", "other"]);
      const t0 = Date.now();
      assert.equal(await store.touchTagPull(name, "t", t0), true);
      assert.equal((await activity(name, "t"))!.pulledAt, t0);
      assert.equal((await activity(name, "other"))!.pulledAt, undefined, "only that tag");
      assert.equal(await store.touchTagPull(name, "t", t0 + PULL_RESOLUTION_MS / 2), false, "within the window: no write");
      assert.equal((await activity(name, "t"))!.pulledAt, t0);
      assert.equal(await store.touchTagPull(name, "t", t0 - 5 * PULL_RESOLUTION_MS), false, "an older pull never wins");
      assert.equal((await activity(name, "t"))!.pulledAt, t0);
      const t1 = t0 + PULL_RESOLUTION_MS + 1;
      assert.equal(await store.touchTagPull(name, "t", t1), true);
      assert.equal((await activity(name, "t"))!.pulledAt, t1);
      assert.equal(await store.touchTagPull(name, "absent", t1), false);
      assert.equal(await store.touchTagPull("ret/absent", "t", t1), false);
      assert.equal(await store.repositoryExists("ret/absent"), false, "a pull creates nothing");
    });

    it("records a pull by digest on every tag pointing at that manifest, once per window", async () => {
      const name = repo();
      const [a, b] = [manifest(), manifest()];
      await store.putManifest(name, a, ["a1", "a2"]);
      await store.putManifest(name, b, ["b1"]);
      const t0 = Date.now();
      assert.equal(await store.touchDigestPull(name, a.digest, t0), 2);
      assert.equal((await activity(name, "a1"))!.pulledAt, t0);
      assert.equal((await activity(name, "a2"))!.pulledAt, t0);
      assert.equal((await activity(name, "b1"))!.pulledAt, undefined, "tags of other manifests untouched");
      assert.equal(await store.touchDigestPull(name, a.digest, t0 + PULL_RESOLUTION_MS / 2), 0, "within the window: no write");
      assert.equal(await store.touchDigestPull(name, a.digest, t0 - 5 * PULL_RESOLUTION_MS), 0, "an older pull never wins");
      assert.equal((await activity(name, "a1"))!.pulledAt, t0);
      const t1 = t0 + PULL_RESOLUTION_MS + 1;
      assert.equal(await store.touchTagPull(name, "a1", t1), true);
      assert.equal(await store.touchDigestPull(name, a.digest, t1), 1, "only the tag whose stamp is stale");
      assert.equal((await activity(name, "a2"))!.pulledAt, t1);
      assert.equal(await store.touchDigestPull(name, manifest().digest, t1), 0, "an untagged or unknown digest");
      assert.equal(await store.touchDigestPull("ret/absent", a.digest, t1), 0);
    });

    it("deletes a tag only while it points at the given manifest, and leaves the manifest", async () => {
      const name = repo();
      const [a, b] = [manifest(), manifest()];
      await store.putManifest(name, a, ["keep", "go"]);
      await store.putManifest(name, b, ["keep"]);
      assert.equal(await store.deleteTagIf(name, "keep", a.digest), false, "moved to b since: stays");
      assert.equal((await store.getManifestByTag(name, "keep"))?.digest, b.digest);
      assert.equal(await store.deleteTagIf(name, "go", a.digest), true);
      assert.equal(await store.getManifestByTag(name, "go"), undefined);
      assert.equal((await store.getManifest(name, a.digest))?.digest, a.digest, "the manifest stays");
      assert.equal(await store.deleteTagIf(name, "go", a.digest), false, "already gone");
      assert.equal(await store.deleteTagIf("ret/absent", "go", a.digest), false);
    });
  });
}
