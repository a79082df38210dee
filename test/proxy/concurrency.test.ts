// Sixteen clients pulling one image nobody pulled before, all at once, through the pull-through cache:
// each gets the right bytes, and the upstream (distribution's own access log) sends each blob once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { scrape, value } from "../helpers/prometheus.js";
import { skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type SeededImage, type Upstream } from "../helpers/upstream.js";
import { blobsOf, eventually, isEmptyDir, pullAll, startHubProxy, type HubProxy } from "./hub-support.js";

const CLIENTS = 16;
const MISS = "Berth; fwd=uri-miss; stored";
const SHARED = /^(Berth; fwd=uri-miss; collapsed|Berth; hit(; ttl=\d+)?)$/;

/** How the answers for one resource went: exactly one fetched it, the others joined or read the cache. */
function assertOneMiss(statuses: (string | null)[], what: string): void {
  assert.equal(statuses.filter((s) => s === MISS).length, 1, `${what}: ${statuses.join(" | ")}`);
  for (const s of statuses.filter((x) => x !== MISS)) assert.match(s ?? "", SHARED, what);
}

describe("pull-through cache: concurrent cold pulls", { skip: skipUnlessTools("docker-registry", "skopeo", "openssl") }, () => {
  let up: Upstream;
  let proxy: HubProxy;
  let image: SeededImage;
  before(async () => {
    up = await startUpstream();
    image = await up.push("library/popular", "v1", { layerBytes: 3 << 20, layers: 2 });
    proxy = await startHubProxy(up);
    await up.clearLogs();
  });
  after(async () => {
    await proxy?.stop();
    await up?.stop();
  });

  it(`gives ${CLIENTS} simultaneous pulls of an uncached image the right bytes, fetching each blob from the upstream once`, async () => {
    const pulls = await Promise.all(Array.from({ length: CLIENTS }, () => pullAll(proxy.url, "docker.io/library/popular", "v1")));
    const blobs = blobsOf(image);
    for (const pull of pulls) {
      assert.equal(pull.manifest.status, 200);
      assert.equal(pull.manifest.headers.get("docker-content-digest"), image.manifestDigest);
      assert.deepEqual(pull.blobs.map((b) => [b.status, b.error?.message, b.digest]), blobs.map((d) => [200, undefined, d]));
      assert.deepEqual(pull.blobs.map((b) => b.headers.get("docker-content-digest")), blobs);
    }
    assert.deepEqual(pulls[0]!.blobs.slice(1).map((b) => b.bytes), image.layerSizes);

    assertOneMiss(pulls.map((p) => p.manifest.headers.get("cache-status")), "manifest");
    blobs.forEach((digest, i) => assertOneMiss(pulls.map((p) => p.blobs[i]!.headers.get("cache-status")), digest));

    for (const digest of blobs) assert.equal(await up.distributionBlobSends(digest), 1, `distribution sent ${digest} once`);
    const manifestGets = up.requests().filter((r) => r.method === "GET" && r.status === 200 && r.path.includes("/manifests/"));
    assert.equal(manifestGets.length, 1);
    const received = value(await scrape(proxy.url), "berth_proxy_upstream_bytes_total", { upstream: "docker.io" });
    assert.equal(received, pulls[0]!.blobs.reduce((sum, b) => sum + b.bytes, 0), "the metric counts each blob's bytes once");
    assert.ok(await eventually(() => isEmptyDir(proxy.spoolDir)), "no spool file is left");
  });
});
