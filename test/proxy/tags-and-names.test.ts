// The pull-through cache's tags and names against the upstream fixture as docker.io: tags revalidated
// by HEAD after tagTtl (a moved tag fetched anew), Docker Hub's `library/` normalisation, the
// `repositories` allow-list, and blobs served under an upstream's name only when it has them there.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type SeededImage, type Upstream } from "../helpers/upstream.js";
import { blobsOf, drain, firstError, get, manifestOf, pullAll, sha256, sleep, startHubProxy, type HubProxy } from "./hub-support.js";
import { clientOf, pushImage } from "./support.js";

describe("pull-through cache: tags and names", { skip: skipUnlessTools("docker-registry", "skopeo", "openssl") }, () => {
  let up: Upstream;
  /** Manifest GETs the upstream answered 200 (a first request of a repository also meets a 401 asking for a token). */
  const manifestGets = (repo: string, ref: string) =>
    up.requests().filter((r) => r.method === "GET" && r.status === 200 && r.path === `/v2/library/${repo}/manifests/${ref}`).length;
  before(async () => {
    up = await startUpstream();
  });
  after(async () => {
    await up?.stop();
  });

  describe("tag revalidation after tagTtl", () => {
    let proxy: HubProxy;
    let v1: SeededImage;
    before(async () => {
      v1 = await up.push("library/moving", "v1", { layerBytes: 32 << 10 });
      proxy = await startHubProxy(up, { tagTtl: "1s" });
      await up.clearLogs();
    });
    after(async () => {
      await proxy?.stop();
    });

    it("serves a fresh tag from the cache, revalidates it with a HEAD once tagTtl passed, and fetches the manifest again only when the tag moved", async () => {
      const repo = "docker.io/library/moving";
      const first = await manifestOf(proxy.url, repo, "v1");
      assert.equal(first.headers.get("cache-status"), "Berth; fwd=uri-miss; stored");
      const fresh = await manifestOf(proxy.url, repo, "v1");
      assert.match(fresh.headers.get("cache-status")!, /^Berth; hit; ttl=[01]$/);
      assert.equal(manifestGets("moving", "v1"), 1);
      const budget = up.rateLimitRemaining();

      await sleep(1100);
      await up.clearLogs();
      const same = await manifestOf(proxy.url, repo, "v1");
      assert.equal(same.status, 200);
      assert.equal(same.headers.get("docker-content-digest"), v1.manifestDigest);
      assert.equal(same.headers.get("cache-status"), "Berth; fwd=stale; fwd-status=200");
      assert.deepEqual(up.requests().map((r) => `${r.method} ${r.path} ${r.status}`), ["HEAD /v2/library/moving/manifests/v1 200"]);
      assert.equal(up.rateLimitRemaining(), budget, "a HEAD does not spend the upstream's pull budget");

      const moved = await up.push("library/moving", "v1", { layerBytes: 32 << 10 });
      assert.notEqual(moved.manifestDigest, v1.manifestDigest);
      await sleep(1100);
      await up.clearLogs();
      const pulled = await pullAll(proxy.url, repo, "v1");
      assert.equal(pulled.manifest.status, 200);
      assert.equal(pulled.manifest.headers.get("docker-content-digest"), moved.manifestDigest);
      assert.equal(sha256(pulled.manifest.body), moved.manifestDigest);
      assert.equal(pulled.manifest.headers.get("cache-status"), "Berth; fwd=uri-miss; stored");
      assert.deepEqual(pulled.blobs.map((b) => b.digest), blobsOf(moved));
      assert.equal(manifestGets("moving", "v1"), 0, "the new manifest is fetched by the digest the HEAD gave");
      assert.equal(manifestGets("moving", moved.manifestDigest), 1);

      const old = await manifestOf(proxy.url, repo, v1.manifestDigest);
      assert.equal(old.status, 200, "the old manifest stays cached by digest");
      assert.equal(old.headers.get("cache-status"), "Berth; hit");
    });
  });

  describe("names: Docker Hub normalisation and the allow-list", () => {
    let proxy: HubProxy;
    let alpine: SeededImage;
    let twin: SeededImage;
    let tool: SeededImage;
    before(async () => {
      alpine = await up.push("library/alpine", "3.19", { layerBytes: 32 << 10, seed: 7 });
      twin = await up.push("library/alpine-twin", "3.19", { layerBytes: 32 << 10, seed: 7 });
      tool = await up.push("someone/tool", "v1", { layerBytes: 16 << 10 });
      proxy = await startHubProxy(up, { repositories: ["library/*"] });
      await up.clearLogs();
    });
    after(async () => {
      await proxy?.stop();
    });

    it("reads docker.io/alpine, docker.io/library/alpine, alpine and ?ns=docker.io from one cache repository, library/alpine", async () => {
      const first = await pullAll(proxy.url, "docker.io/alpine", "3.19");
      assert.equal(first.manifest.status, 200);
      assert.equal(first.manifest.headers.get("docker-content-digest"), alpine.manifestDigest);
      assert.equal(first.manifest.headers.get("cache-status"), "Berth; fwd=uri-miss; stored");
      assert.deepEqual(first.blobs.map((b) => b.digest), blobsOf(alpine));
      for (const url of [
        `${proxy.url}/v2/docker.io/library/alpine/manifests/3.19`,
        `${proxy.url}/v2/alpine/manifests/3.19`,
        `${proxy.url}/v2/library/alpine/manifests/3.19`,
        `${proxy.url}/v2/alpine/manifests/3.19?ns=docker.io`,
      ]) {
        const res = await get(url);
        assert.equal(res.status, 200, url);
        assert.match(res.headers.get("cache-status")!, /^Berth; hit/, url);
      }
      assert.deepEqual(up.requests().filter((r) => r.method === "GET" && r.status === 200 && r.path.includes("/manifests/")).map((r) => r.path), ["/v2/library/alpine/manifests/3.19"]);
      const catalog = (await (await fetch(`${proxy.url}/v2/_catalog`)).json()) as { repositories: string[] };
      assert.deepEqual(catalog.repositories, ["docker.io/library/alpine"]);
    });

    it("refuses a repository outside `repositories` with 403 DENIED naming the rule, without asking the upstream", async () => {
      for (const answer of [
        await manifestOf(proxy.url, "docker.io/someone/tool", "v1"),
        await manifestOf(proxy.url, "someone/tool", "v1"),
        await get(`${proxy.url}/v2/docker.io/someone/tool/blobs/${tool.layerDigests[0]}`),
        await get(`${proxy.url}/v2/docker.io/someone/tool/tags/list`),
      ]) {
        assert.equal(answer.status, 403);
        const error = firstError(answer);
        assert.equal(error.code, "DENIED");
        assert.ok(error.message.includes("proxy.upstreams[0].repositories"), error.message);
        assert.ok(error.message.includes("library/*") && error.message.includes("someone/tool"), error.message);
      }
      assert.deepEqual(up.requests().filter((r) => r.path.includes("someone")), []);
    });

    it("serves a blob under an upstream's name only when the upstream has it there, sharing the bytes Berth already stores", async () => {
      const secret = await pushImage(clientOf(proxy.url), "team/secret", "v1", [20_000]);
      const layer = secret.layers[0]!.digest;
      assert.equal((await drain(`${proxy.url}/v2/team/secret/blobs/${layer}`)).digest, layer);
      const leaked = await get(`${proxy.url}/v2/docker.io/library/alpine/blobs/${layer}`);
      assert.equal(leaked.status, 404, "a local repository's blob is not readable through an upstream that does not have it");
      assert.equal(firstError(leaked).code, "BLOB_UNKNOWN");
      assert.equal((await get(`${proxy.url}/v2/docker.io/library/alpine/blobs/${layer}`, { method: "HEAD" })).status, 404);

      assert.deepEqual(twin.layerDigests, alpine.layerDigests, "same seed, same layer");
      await up.clearLogs();
      const shared = await drain(`${proxy.url}/v2/docker.io/library/alpine-twin/blobs/${twin.layerDigests[0]}`);
      assert.equal(shared.digest, twin.layerDigests[0]);
      assert.equal(shared.headers.get("cache-status"), "Berth; hit");
      assert.equal(await up.distributionBlobSends(twin.layerDigests[0]!), 0, "asked with a HEAD, not fetched again");
      assert.deepEqual(up.requests().map((r) => `${r.method} ${r.path}`), [`HEAD /v2/library/alpine-twin/blobs/${twin.layerDigests[0]}`]);
    });
  });
});
