import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRegistryClient } from "../../src/client/registry-client.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { clientOf, pushImage, pushIndex, startProxyBerth } from "./support.js";

async function get(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe("pull-through cache in front of another Berth", () => {
  let upstream: TestBerth;
  let proxy: TestBerth;
  before(async () => {
    upstream = await startBerth();
    proxy = await startProxyBerth({ upstreams: [{ name: "up.example", url: upstream.url, default: true, tagTtl: "1h" }] });
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  it("serves a tag by path prefix: a miss stores it, the next read is a hit, blobs stream and then come from the cache", async () => {
    const image = await pushImage(clientOf(upstream.url), "team/app", "v1", [300_000]);
    const first = await get(`${proxy.url}/v2/up.example/team/app/manifests/v1`);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("docker-content-digest"), image.digest);
    assert.match(first.headers.get("cache-status")!, /^Berth; fwd=uri-miss; stored/);
    assert.deepEqual(first.body, image.content);
    const second = await get(`${proxy.url}/v2/up.example/team/app/manifests/v1`);
    assert.match(second.headers.get("cache-status")!, /^Berth; hit/);
    const layer = image.layers[0]!;
    const cold = await get(`${proxy.url}/v2/up.example/team/app/blobs/${layer.digest}`);
    assert.equal(cold.status, 200);
    assert.match(cold.headers.get("cache-status")!, /fwd=uri-miss/);
    assert.deepEqual(cold.body, layer.bytes);
    const warm = await get(`${proxy.url}/v2/up.example/team/app/blobs/${layer.digest}`);
    assert.match(warm.headers.get("cache-status")!, /^Berth; hit/);
    assert.deepEqual(warm.body, layer.bytes);
  });

  it("pulls with the registry client through the mirror form (no prefix) into the same cache", async () => {
    const image = await pushImage(clientOf(upstream.url), "mirror/one", "latest");
    const client = clientOf(proxy.url);
    const manifest = await client.manifest("mirror/one", "latest");
    assert.equal(manifest?.digest, image.digest);
    const prefixed = await get(`${proxy.url}/v2/up.example/mirror/one/manifests/${image.digest}`);
    assert.match(prefixed.headers.get("cache-status")!, /^Berth; hit/);
  });

  it("refuses pushes under an upstream's prefix, naming the upstream", async () => {
    const res = await get(`${proxy.url}/v2/up.example/team/app/blobs/uploads/`, { method: "POST" });
    assert.equal(res.status, 403);
    const body = JSON.parse(res.body.toString());
    assert.equal(body.errors[0].code, "DENIED");
    assert.match(body.errors[0].message, /pull-through cache of http:\/\/127\.0\.0\.1/);
  });

  it("fetches only the platform pulled from an index", async () => {
    const index = await pushIndex(clientOf(upstream.url), "multi/arch", "v2");
    const client = clientOf(proxy.url);
    assert.equal((await client.manifest("up.example/multi/arch", "v2"))?.digest, index.digest);
    const amd = index.platforms.amd64!;
    assert.equal((await client.manifest("up.example/multi/arch", amd.digest))?.digest, amd.digest);
    const arm = index.platforms.arm64!;
    const local = createRegistryClient({ url: proxy.url });
    const cachedArm = await get(`${proxy.url}/v2/up.example/multi/arch/manifests/${arm.digest}`, { method: "HEAD" });
    assert.match(cachedArm.headers.get("cache-status")!, /fwd=uri-miss/, "the arm64 manifest was fetched only now");
    local.close();
  });

  it("uses ?ns= to pick the upstream, and answers an unknown ns from local repositories only", async () => {
    const image = await pushImage(clientOf(upstream.url), "ns/case", "v1");
    const viaNs = await get(`${proxy.url}/v2/ns/case/manifests/v1?ns=up.example`);
    assert.equal(viaNs.status, 200);
    assert.equal(viaNs.headers.get("docker-content-digest"), image.digest);
    const other = await get(`${proxy.url}/v2/ns/case/manifests/v1?ns=quay.io`);
    assert.equal(other.status, 404);
  });
});
