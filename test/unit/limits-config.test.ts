import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { displayConfig } from "../../src/config/display.js";
import { loadConfig } from "../../src/config/load.js";

describe("limits configuration", () => {
  it("defaults protect without cutting slow links: 30s headers, 60s idle, 1KiB/s over 60s, no caps, no rates", () => {
    assert.deepEqual(loadConfig({ env: {} }).limits, {
      headerTimeout: 30_000,
      idleTimeout: 60_000,
      minTransferRate: 1024,
      transferRateWindow: 60_000,
      acceptHandles: 16,
      maxConnections: 0,
      maxUploads: 0,
      rate: { perAddress: 0, perUser: 0, burst: 0 },
    });
  });

  it("takes rates in their units from the environment", () => {
    const { limits } = loadConfig({
      env: { BERTH_MIN_TRANSFER_RATE: "64KiB/s", BERTH_RATE_PER_ADDRESS: "600/m", BERTH_RATE_PER_USER: "50/s", BERTH_MAX_CONNECTIONS: "5000", BERTH_HEADER_TIMEOUT: "0" },
    });
    assert.equal(limits.minTransferRate, 64 * 1024);
    assert.equal(limits.rate.perAddress, 10);
    assert.equal(limits.rate.perUser, 50);
    assert.equal(limits.maxConnections, 5000);
    assert.equal(limits.headerTimeout, 0);
  });

  it("refuses malformed limits with the setting's name", () => {
    assert.throws(() => loadConfig({ env: { BERTH_MIN_TRANSFER_RATE: "fast" } }), /limits\.minTransferRate: not a transfer rate/);
    assert.throws(() => loadConfig({ env: { BERTH_RATE_PER_USER: "lots/s" } }), /limits\.rate\.perUser: not a request rate/);
    assert.throws(() => loadConfig({ env: { BERTH_HEADER_TIMEOUT: "200ms" } }), /limits\.headerTimeout/);
    assert.throws(() => loadConfig({ env: { BERTH_MAX_UPLOADS: "-1" } }), /limits\.maxUploads/);
    assert.throws(() => loadConfig({ env: { BERTH_ACCEPT_HANDLES: "0" } }), /limits\.acceptHandles/);
  });

  it("berth config shows rates as written, defaults in their units, and that loads back the same", () => {
    const config = loadConfig({ env: { BERTH_RATE_PER_ADDRESS: "600/m", BERTH_RATE_PER_USER: "2.5" } });
    const shown = displayConfig(config) as { limits: Record<string, unknown> & { rate: Record<string, unknown> } };
    assert.equal(shown.limits.minTransferRate, "1KiB/s");
    assert.equal(shown.limits.rate.perAddress, "600/m");
    assert.equal(shown.limits.rate.perUser, "2.5");
    const again = loadConfig({ env: { BERTH_MIN_TRANSFER_RATE: String(shown.limits.minTransferRate), BERTH_RATE_PER_ADDRESS: String(shown.limits.rate.perAddress) } });
    assert.equal(again.limits.minTransferRate, config.limits.minTransferRate);
    assert.equal(again.limits.rate.perAddress, config.limits.rate.perAddress);
  });
});
