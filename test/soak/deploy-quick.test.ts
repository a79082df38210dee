import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEPLOY_QUICK, runDeploy } from "../../bench/load/deploy.js";
import { pushDeployImage } from "../../bench/load/deploy-image.js";
import { startBerthServer } from "../../bench/servers.js";

/**
 * The quick deploy storm of `npm run bench:load -- --deploy --quick` against Berth alone: 20
 * clients pull one 32 MiB image at once and every one of them gets every byte right. Throughput is
 * reported, not asserted.
 */
describe("deploy storm: 20 clients pull one image at once", () => {
  it("every client gets the whole image, verified", { timeout: 120_000 }, async () => {
    const shape = { ...DEPLOY_QUICK, verifyEvery: 1 };
    const berth = await startBerthServer("berth", { BERTH_FSYNC: "false" });
    try {
      const image = await pushDeployImage(berth.url, shape.layers, shape.layerBytes);
      const r = await runDeploy(berth, image, shape, 1);
      process.stdout.write(`# deploy: ${(r.bytes / 1e9).toFixed(2)} GB in ${r.seconds.toFixed(1)} s, slowest ${(r.clientMs.at(-1)! / 1000).toFixed(1)} s\n`);
      assert.deepEqual(r.errors, []);
      assert.equal(r.clientMs.length, shape.clients);
      assert.equal(r.verified, shape.clients, "every client hashed every blob against its digest");
      assert.equal(r.bytes, shape.clients * image.totalBytes);
    } finally {
      await berth.stop();
    }
  });
});
