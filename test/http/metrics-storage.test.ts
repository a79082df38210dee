import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { createStorageGauges } from "../../src/http/metrics-storage.js";
import { createSqliteMetadataStore } from "../../src/storage/drivers/sqlite-metadata-store.js";
import { parseExposition, value } from "../helpers/prometheus.js";

describe("storage gauges", () => {
  it("keep the last good counts and count the failures when the database stops answering, never failing the scrape", async () => {
    const store = createSqliteMetadataStore({ path: ":memory:" });
    const register = new Registry();
    const gauges = createStorageGauges(register, { store, refreshMs: 0 });
    await gauges.update();
    const good = parseExposition(await register.metrics());
    assert.equal(value(good, "berth_storage_refresh_failures"), 0);
    const countedAt = value(good, "berth_storage_refresh_timestamp_seconds");
    assert.ok(countedAt > 0);

    await store.close();
    await gauges.update();
    await gauges.update();
    const failed = parseExposition(await register.metrics());
    assert.equal(value(failed, "berth_storage_refresh_failures"), 2);
    assert.equal(value(failed, "berth_storage_refresh_timestamp_seconds"), countedAt, "the numbers shown are still the last good count");
  });
});
