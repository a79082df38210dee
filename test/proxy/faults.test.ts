// The pull-through cache when its upstream fails: stopped, killed mid-blob, rate-limiting. Against the
// upstream fixture (distribution 2.8 behind a token server and a fault front), as docker.io. Runs on
// the embedded default, and on S3 + PostgreSQL through test/scale/proxy-on-s3-postgres.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { scrape, value } from "../helpers/prometheus.js";
import { skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type SeededImage, type Upstream } from "../helpers/upstream.js";
import { blobsOf, drain, eventually, firstError, get, isEmptyDir, manifestOf, pullAll, sha256, sleep, startHubProxy, type HubProxy } from "./hub-support.js";

const KiB = 1024;
const STALE = /^Berth; hit; ttl=-\d+; detail=stale$/;

describe("pull-through cache when the upstream fails", { skip: skipUnlessTools("docker-registry", "skopeo", "openssl") }, () => {
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
  });
  after(async () => {
    await up?.stop();
  });

  describe("upstream stopped", () => {
    let proxy: HubProxy;
    let cached: SeededImage;
    let never: SeededImage;
    before(async () => {
      cached = await up.push("library/cached", "v1", { layerBytes: 128 * KiB, layers: 2 });
      never = await up.push("library/never", "v1", { layerBytes: 64 * KiB });
      proxy = await startHubProxy(up, { tagTtl: "0s" });
      const pulled = await pullAll(proxy.url, "docker.io/library/cached", "v1");
      assert.equal(pulled.manifest.status, 200);
      assert.deepEqual(pulled.blobs.map((b) => b.digest), blobsOf(cached));
      await up.clearLogs();
    });
    after(async () => {
      await up.startFront();
      await proxy?.stop();
    });

    it("fails what was never cached fast with 502 UNAVAILABLE naming the upstream, serves cached tags stale and digests from the cache, then recovers", async () => {
      await up.stopFront();
      const started = Date.now();
      const missing = await manifestOf(proxy.url, "docker.io/library/never", "v1");
      assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
      assert.equal(missing.status, 502);
      assert.equal(firstError(missing).code, "UNAVAILABLE");
      assert.match(firstError(missing).message, new RegExp(`upstream docker\\.io \\(${up.url.replace(/\./g, "\\.")}\\) is unreachable`));
      assert.match(firstError(missing).message, /library\/never:v1 is not cached/);

      const tag = await manifestOf(proxy.url, "docker.io/library/cached", "v1");
      assert.equal(tag.status, 200);
      assert.equal(tag.headers.get("docker-content-digest"), cached.manifestDigest);
      assert.equal(sha256(tag.body), cached.manifestDigest);
      assert.match(tag.headers.get("cache-status")!, STALE);
      const mirror = await manifestOf(proxy.url, "cached", "v1");
      assert.equal(mirror.status, 200, "the mirror form (docker.io/library/ implied) is served stale too");
      assert.match(mirror.headers.get("cache-status")!, STALE);
      const byDigest = await manifestOf(proxy.url, "docker.io/library/cached", cached.manifestDigest);
      assert.equal(byDigest.status, 200);
      assert.equal(byDigest.headers.get("cache-status"), "Berth; hit");
      for (const digest of blobsOf(cached)) {
        const blob = await drain(`${proxy.url}/v2/docker.io/library/cached/blobs/${digest}`);
        assert.equal(blob.status, 200);
        assert.equal(blob.digest, digest);
        assert.equal(blob.headers.get("cache-status"), "Berth; hit");
      }

      // Asked again while Berth leaves the upstream alone: still the same answer, still fast.
      const again = Date.now();
      const blob = await get(`${proxy.url}/v2/docker.io/library/never/blobs/${never.layerDigests[0]}`);
      assert.ok(Date.now() - again < 2000);
      assert.equal(blob.status, 502);
      assert.match(firstError(blob).message, /upstream docker\.io \(.*\) is unreachable/);

      await up.startFront();
      let last = missing;
      const recovered = await eventually(async () => {
        last = await manifestOf(proxy.url, "docker.io/library/never", "v1");
        assert.ok(last.status === 200 || last.status === 502, `status ${last.status}: ${last.body}`);
        return last.status === 200;
      }, 8000);
      assert.ok(recovered, "pulls work again once the upstream is back");
      assert.equal(last.headers.get("docker-content-digest"), never.manifestDigest);
      const revalidated = await manifestOf(proxy.url, "docker.io/library/cached", "v1");
      assert.equal(revalidated.headers.get("cache-status"), "Berth; fwd=stale; fwd-status=200");
    });
  });

  describe("upstream silent (timeout)", () => {
    let proxy: HubProxy;
    let cached: SeededImage;
    before(async () => {
      cached = await up.push("library/slow", "v1", { layerBytes: 16 * KiB });
      await up.push("library/slower", "v1", { layerBytes: 16 * KiB });
      proxy = await startHubProxy(up, { tagTtl: "0s", timeout: "500ms" });
      assert.equal((await manifestOf(proxy.url, "docker.io/library/slow", "v1")).status, 200);
    });
    after(async () => {
      up.delay(0);
      await proxy?.stop();
    });

    it("answers 504 naming the upstream after `timeout` for what is not cached, and serves cached tags stale", async () => {
      up.delay(3000, { match: /\/manifests\// });
      const started = Date.now();
      const missing = await manifestOf(proxy.url, "docker.io/library/slower", "v1");
      assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
      assert.equal(missing.status, 504);
      assert.equal(firstError(missing).code, "UNAVAILABLE");
      assert.match(firstError(missing).message, /upstream docker\.io \(.*\) did not answer in time; library\/slower:v1 is not cached/);
      const stale = await manifestOf(proxy.url, "docker.io/library/slow", "v1");
      assert.equal(stale.status, 200);
      assert.equal(stale.headers.get("docker-content-digest"), cached.manifestDigest);
      assert.match(stale.headers.get("cache-status")!, STALE);
      const again = await manifestOf(proxy.url, "docker.io/library/slower", "v1");
      assert.equal(again.status, 504, "the same answer while Berth leaves the upstream alone");
    });
  });

  describe("upstream killed mid-blob", () => {
    let proxy: HubProxy;
    let image: SeededImage;
    before(async () => {
      image = await up.push("library/cut", "v1", { layerBytes: 2 << 20 });
      proxy = await startHubProxy(up);
      assert.equal((await manifestOf(proxy.url, "docker.io/library/cut", "v1")).status, 200);
      await up.clearLogs();
    });
    after(async () => {
      up.cutBlobsAfter(undefined);
      await proxy?.stop();
    });

    it("ends the client's body short, stores nothing and leaves no spool file; once the cut stops the blob is fetched whole", async () => {
      const layer = image.layerDigests[0]!;
      const size = image.layerSizes[0]!;
      const url = `${proxy.url}/v2/docker.io/library/cut/blobs/${layer}`;
      up.cutBlobsAfter(256 * KiB, { match: new RegExp(layer) });

      const both = await Promise.all([drain(url), drain(url)]);
      for (const cut of both) {
        assert.equal(cut.status, 200);
        assert.equal(cut.headers.get("content-length"), String(size));
        assert.ok(cut.error, "the body ends with an error, not a clean end");
        assert.ok(cut.bytes < size, `${cut.bytes} of ${size} bytes`);
      }
      assert.ok(await eventually(() => isEmptyDir(proxy.spoolDir)), "the spool file of the failed fetch is gone");

      const head = await get(url, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("cache-status"), "Berth; fwd=uri-miss", "not in the cache: the HEAD went to the upstream");
      const retry = await drain(url);
      assert.ok(retry.error && retry.bytes < size, "still cut");
      assert.match(retry.headers.get("cache-status")!, /^Berth; fwd=uri-miss/, "a miss again: nothing was stored");

      up.cutBlobsAfter(0, { match: new RegExp(layer) });
      const headOnly = await get(url);
      assert.equal(headOnly.status, 502, "an upstream failing before its first byte is a 502 naming it, not a cut connection");
      assert.equal(firstError(headOnly).code, "UNAVAILABLE");
      assert.match(firstError(headOnly).message, /upstream docker\.io/);
      assert.ok(await eventually(() => isEmptyDir(proxy.spoolDir)));

      up.cutBlobsAfter(undefined);
      const whole = await drain(url);
      assert.equal(whole.status, 200);
      assert.equal(whole.error, undefined);
      assert.equal(whole.bytes, size);
      assert.equal(whole.digest, layer);
      assert.equal(whole.headers.get("docker-content-digest"), layer);
      assert.equal(whole.headers.get("cache-status"), "Berth; fwd=uri-miss; stored");
      const warm = await drain(url);
      assert.equal(warm.digest, layer);
      assert.equal(warm.headers.get("cache-status"), "Berth; hit");
      assert.ok(await eventually(() => isEmptyDir(proxy.spoolDir)));
    });
  });

  describe("upstream rate-limiting (429 with Retry-After)", () => {
    let proxy: HubProxy;
    let cached: SeededImage;
    let fresh: SeededImage;
    before(async () => {
      cached = await up.push("library/limited", "v1", { layerBytes: 16 * KiB });
      fresh = await up.push("library/fresh", "v1", { layerBytes: 16 * KiB });
      proxy = await startHubProxy(up, { tagTtl: "0s" });
      assert.equal((await manifestOf(proxy.url, "docker.io/library/limited", "v1")).status, 200);
    });
    after(async () => {
      up.failWith(undefined);
      await proxy?.stop();
    });

    it("exports the upstream's rate-limit headers as metrics", async () => {
      const metrics = await scrape(proxy.url);
      assert.equal(value(metrics, "berth_proxy_ratelimit_limit", { upstream: "docker.io" }), 100);
      assert.equal(value(metrics, "berth_proxy_ratelimit_remaining", { upstream: "docker.io" }), up.rateLimitRemaining());
      assert.ok(up.rateLimitRemaining() < 100);
    });

    it("answers 503 with Retry-After for what is not cached, serves cached tags stale, leaves the upstream alone until Retry-After, then recovers", async () => {
      await up.clearLogs();
      up.failWith(429, { retryAfter: 2 });
      const limitedAt = Date.now();
      const direct = await manifestOf(proxy.url, "docker.io/library/fresh", "v1");
      assert.equal(direct.status, 503);
      assert.equal(direct.headers.get("retry-after"), "2");
      assert.equal(firstError(direct).code, "UNAVAILABLE");
      assert.match(firstError(direct).message, /upstream docker\.io \(http:\/\/127\.0\.0\.1:\d+\) is rate-limiting Berth \(429\)/);
      const asked = up.requests().length;
      assert.equal(asked, 1);

      const stale = await manifestOf(proxy.url, "docker.io/library/limited", "v1");
      assert.equal(stale.status, 200);
      assert.equal(stale.headers.get("docker-content-digest"), cached.manifestDigest);
      assert.match(stale.headers.get("cache-status")!, STALE);
      const paused = await manifestOf(proxy.url, "docker.io/library/fresh", "v1");
      assert.equal(paused.status, 503);
      assert.ok(["1", "2"].includes(paused.headers.get("retry-after")!), `Retry-After ${paused.headers.get("retry-after")}`);
      assert.match(firstError(paused).message, /upstream docker\.io \(.*\) is rate-limiting Berth \(429\)/);
      const blob = await get(`${proxy.url}/v2/docker.io/library/fresh/blobs/${fresh.layerDigests[0]}`);
      assert.equal(blob.status, 503);
      assert.equal(up.requests().length, asked, `no request during the back-off: ${up.requests().map((r) => `${r.method} ${r.path}`).join(", ")}`);

      await sleep(limitedAt + 2100 - Date.now());
      up.failWith(undefined);
      const after = await pullAll(proxy.url, "docker.io/library/fresh", "v1");
      assert.equal(after.manifest.status, 200);
      assert.equal(after.manifest.headers.get("docker-content-digest"), fresh.manifestDigest);
      assert.deepEqual(after.blobs.map((b) => b.digest), blobsOf(fresh));
      const metrics = await scrape(proxy.url);
      assert.equal(value(metrics, "berth_proxy_ratelimit_remaining", { upstream: "docker.io" }), up.rateLimitRemaining());
    });
  });
});
