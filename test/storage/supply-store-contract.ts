import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { MetadataStore } from "../../src/storage/metadata-store.js";
import { useContractStore } from "./contract-store.js";

/** The supply-chain records half of the MetadataStore contract (supply-store.ts), for every driver. */
export function describeSupplyContract(
  driver: string,
  create: () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>,
): void {
  describe(`SupplyStore contract: ${driver}`, () => {
    const store = useContractStore(create);
    const kind = () => `k-${randomUUID().slice(0, 8)}`;

    it("stores records by kind and key, replaces them in place, and keeps kinds apart", async () => {
      const [a, b] = [kind(), kind()];
      await store.putSupplyRecords(a, [{ key: "x", value: '{"v":1}' }, { key: "y", value: '{"v":2}' }], 1000);
      await store.putSupplyRecords(b, [{ key: "x", value: '{"other":true}' }], 1000);
      assert.deepEqual(await store.getSupplyRecord(a, "x"), { value: '{"v":1}', updatedAt: 1000 });
      await store.putSupplyRecords(a, [{ key: "x", value: '{"v":3}' }], 2000);
      assert.deepEqual(await store.getSupplyRecord(a, "x"), { value: '{"v":3}', updatedAt: 2000 });
      assert.deepEqual(await store.getSupplyRecord(b, "x"), { value: '{"other":true}', updatedAt: 1000 });
      assert.equal(await store.getSupplyRecord(a, "absent"), undefined);
      assert.equal(await store.countSupplyRecords(a), 2);
    });

    it("reads many keys at once, past one batch, leaving the missing ones out", async () => {
      const k = kind();
      const entries = Array.from({ length: 1200 }, (_, i) => ({ key: `pkg-${String(i).padStart(4, "0")}`, value: String(i) }));
      await store.putSupplyRecords(k, entries);
      const wanted = [...entries.map((e) => e.key).filter((_, i) => i % 2 === 0), "missing", "pkg-0000"];
      const found = await store.getSupplyRecords(k, wanted);
      assert.equal(found.size, 600);
      assert.equal(found.get("pkg-1198")?.value, "1198");
      assert.equal(found.has("missing"), false);
    });

    it("writes a batch whole or not at all, the last value of a repeated key winning", async () => {
      const k = kind();
      await store.putSupplyRecords(k, [{ key: "a", value: "1" }, { key: "a", value: "2" }]);
      assert.equal((await store.getSupplyRecord(k, "a"))?.value, "2");
      await assert.rejects(store.putSupplyRecords(k, [{ key: "b", value: "1" }, { key: "c", value: null as unknown as string }]));
      assert.equal(await store.getSupplyRecord(k, "b"), undefined);
    });

    it("lists a kind by key a page at a time and deletes by key", async () => {
      const k = kind();
      await store.putSupplyRecords(k, ["c", "a", "b", "d"].map((key) => ({ key, value: key.toUpperCase() })));
      assert.deepEqual((await store.listSupplyRecords(k, { limit: 2 })).map((r) => [r.key, r.value]), [["a", "A"], ["b", "B"]]);
      assert.deepEqual((await store.listSupplyRecords(k, { limit: 10, last: "b" })).map((r) => r.key), ["c", "d"]);
      assert.equal(await store.deleteSupplyRecords(k, ["a", "d", "zz"]), 2);
      assert.deepEqual((await store.listSupplyRecords(k, { limit: 10 })).map((r) => r.key), ["b", "c"]);
    });

    it("counts generations per kind from 0, one bump at a time, concurrent bumps all counted", async () => {
      const [a, b] = [kind(), kind()];
      assert.equal(await store.supplyGeneration(a), 0);
      assert.equal(await store.bumpSupplyGeneration(a), 1);
      const bumped = await Promise.all(Array.from({ length: 5 }, () => store.bumpSupplyGeneration(a)));
      assert.deepEqual([...bumped].sort(), [2, 3, 4, 5, 6]);
      assert.equal(await store.supplyGeneration(a), 6);
      assert.equal(await store.supplyGeneration(b), 0);
    });
  });
}
