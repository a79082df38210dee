import assert from "node:assert/strict";
import { addBlob } from "../helpers/store.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { digestOf } from "../../src/oci/digest.js";
import { createSqliteMetadataStore } from "../../src/storage/drivers/sqlite-metadata-store.js";
import { describeLifecycleContract } from "./lifecycle-store-contract.js";
import { describeRetentionContract } from "./retention-store-contract.js";
import { describeSupplyContract } from "./supply-store-contract.js";
import { describeMetadataStoreContract } from "./metadata-store-contract.js";
import { describeUsageContract } from "./usage-store-contract.js";
import { describeEventStoreContract } from "./event-store-contract.js";
import { describeBrowseContract } from "./browse-store-contract.js";

const create = async () => {
  const dir = await mkdtemp(join(tmpdir(), "berth-sqlite-"));
  return { store: createSqliteMetadataStore({ path: join(dir, "berth.db"), create: true }), cleanup: () => rm(dir, { recursive: true, force: true }) };
};
describeMetadataStoreContract("sqlite", create);
describeLifecycleContract("sqlite", create);
describeUsageContract("sqlite", create);
describeRetentionContract("sqlite", create);
describeSupplyContract("sqlite", create);
describeEventStoreContract("sqlite", create);
describeBrowseContract("sqlite", create);

describe("sqlite MetadataStore", () => {
  it("keeps everything across a close and reopen", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-sqlite-"));
    const path = join(dir, "berth.db");
    const first = createSqliteMetadataStore({ path, create: true });
    await addBlob(first, "persist/app", digestOf("layer"), 5);
    await first.close();
    const second = createSqliteMetadataStore({ path, create: true });
    assert.deepEqual(await second.getBlobLink("persist/app", digestOf("layer")), { size: 5 });
    await second.close();
    await rm(dir, { recursive: true, force: true });
  });
});
