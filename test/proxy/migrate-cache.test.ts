import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BERTH_BIN, configFromEnv, startBerth, type TestBerth } from "../helpers/berth.js";
import { run } from "../helpers/tools.js";
import { clientOf, pushIndex, startProxyBerth } from "./support.js";

/**
 * `berth migrate` of a registry holding a pull-through cache: the cache stored an index without
 * the platform nobody pulled, and the copy keeps it so, instead of skipping it as broken.
 */
describe("berth migrate with a pull-through cache", () => {
  let upstream: TestBerth;
  let dir: string;
  let digest: string;
  let source: TestBerth;

  before(async () => {
    upstream = await startBerth();
    const index = await pushIndex(clientOf(upstream.url), "multi/app", "v1");
    digest = index.digest;
    dir = await mkdtemp(join(tmpdir(), "berth-migrate-cache-"));
    // Left running during the copy (as an operator may): its stores stay until after().
    source = await startProxyBerth({ upstreams: [{ name: "up.example", url: upstream.url }] }, { BERTH_DATA: join(dir, "from") });
    const client = clientOf(source.url);
    assert.equal((await client.manifest("up.example/multi/app", "v1"))?.digest, digest);
    client.close();
  });
  after(async () => {
    await source?.stop();
    await upstream?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("copies the cached index and its tag, reporting no problem", async () => {
    const proxy = { upstreams: [{ name: "up.example", url: upstream.url }] };
    // From the stores the cache filled (embedded, or S3 + PostgreSQL under BERTH_TEST_BACKEND), to embedded.
    await writeFile(join(dir, "from.json"), JSON.stringify({ ...configFromEnv(source.env, join(dir, "from")), proxy }));
    await writeFile(join(dir, "to.json"), JSON.stringify({ data: join(dir, "to"), proxy }));
    const result = await run(process.execPath, [BERTH_BIN, "migrate", "--from", join(dir, "from.json"), "--to", join(dir, "to.json")]);
    const report = JSON.parse(result.stdout);
    assert.deepEqual(report.problems, []);
    assert.equal(report.manifests, 1);
    assert.equal(report.tags, 1);
    if (process.env.BERTH_TEST_BACKEND === "s3-postgres") return;
    const target = await startProxyBerth(proxy, { BERTH_DATA: join(dir, "to") });
    try {
      const res = await fetch(`${target.url}/v2/up.example/multi/app/manifests/v1`);
      assert.equal(res.headers.get("docker-content-digest"), digest);
    } finally {
      await target.stop();
    }
  });
});
