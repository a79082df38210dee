// Referrers (signatures, SBOMs: manifests with a `subject`) through the pull-through cache. In front
// of distribution 2.8 (no referrers API, it answers 404) Berth answers from what its cache holds; in
// front of another Berth (which has the API) the upstream's referrers index is passed on, and the
// cache answers only when that upstream is gone.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RegistryClient } from "../../src/client/registry-client.js";
import { createRegistryClient } from "../../src/client/registry-client.js";
import { digestOf, EMPTY_JSON, type Digest } from "../../src/oci/digest.js";
import { MediaType } from "../../src/oci/media-types.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type Upstream } from "../helpers/upstream.js";
import { get, manifestOf, startHubProxy, type HubProxy } from "./hub-support.js";
import { clientOf, pushImage, startProxyBerth, type PushedImage } from "./support.js";

const SIGNATURE = "application/vnd.example.signature.v1";
const SBOM = "application/spdx+json";

/** Pushes an artifact manifest (empty config, one small layer) whose subject is `subject`; untagged, as referrer-aware tools push them. */
async function pushArtifact(client: RegistryClient, repo: string, subject: PushedImage, artifactType: string): Promise<Digest> {
  const layer = Buffer.from(`${artifactType} of ${subject.digest}\n`);
  const layerDigest = await client.pushBlob(repo, layer);
  const config = await client.pushBlob(repo, EMPTY_JSON);
  const content = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType,
    config: { mediaType: MediaType.OciEmpty, digest: config, size: EMPTY_JSON.length },
    layers: [{ mediaType: "application/octet-stream", digest: layerDigest, size: layer.length }],
    subject: { mediaType: MediaType.OciManifest, digest: subject.digest, size: subject.content.length },
  }));
  return client.putManifest(repo, digestOf(content), content, MediaType.OciManifest);
}

interface ReferrersIndex {
  mediaType: string;
  manifests: { digest: string; artifactType?: string }[];
}
const indexOf = (body: Buffer) => JSON.parse(body.toString("utf8")) as ReferrersIndex;

describe("pull-through cache: referrers", { skip: skipUnlessTools("docker-registry", "skopeo", "openssl") }, () => {
  describe("in front of distribution 2.8 (no referrers API)", () => {
    let up: Upstream;
    let proxy: HubProxy;
    let image: PushedImage;
    let signature: Digest;
    before(async () => {
      up = await startUpstream({ users: { alice: "secret" } });
      const pusher = createRegistryClient({ url: up.url, credentials: { username: "alice", password: "secret" } });
      image = await pushImage(pusher, "library/signed", "v1", [4096]);
      signature = await pushArtifact(pusher, "library/signed", image, SIGNATURE);
      pusher.close();
      proxy = await startHubProxy(up);
      await up.clearLogs();
    });
    after(async () => {
      await proxy?.stop();
      await up?.stop();
    });

    it("answers an empty index at first (the upstream answers 404), then lists a referrer once it was pulled through the cache", async () => {
      const url = `${proxy.url}/v2/docker.io/library/signed/referrers/${image.digest}`;
      const cold = await get(url);
      assert.equal(cold.status, 200);
      assert.equal(cold.headers.get("content-type"), MediaType.OciIndex);
      assert.equal(cold.headers.get("cache-status"), "Berth; fwd=uri-miss");
      assert.deepEqual(indexOf(cold.body).manifests, []);
      const asked = up.requests().filter((r) => r.path === `/v2/library/signed/referrers/${image.digest}`);
      assert.ok(asked.length > 0 && asked.every((r) => r.status === 404), JSON.stringify(asked));

      const pulled = await manifestOf(proxy.url, "docker.io/library/signed", signature);
      assert.equal(pulled.status, 200);
      assert.equal(pulled.headers.get("cache-status"), "Berth; fwd=uri-miss; stored");
      const warm = await get(url);
      assert.equal(warm.status, 200);
      assert.deepEqual(indexOf(warm.body).manifests.map((m) => [m.digest, m.artifactType]), [[signature, SIGNATURE]]);
      const filtered = await get(`${url}?artifactType=${encodeURIComponent(SBOM)}`);
      assert.deepEqual(indexOf(filtered.body).manifests, []);
      assert.equal(filtered.headers.get("oci-filters-applied"), "artifactType");
    });
  });

  describe("in front of another Berth (referrers API)", () => {
    let upstream: TestBerth;
    let proxy: TestBerth;
    let image: PushedImage;
    let signature: Digest;
    let sbom: Digest;
    let upstreamStopped = false;
    before(async () => {
      upstream = await startBerth();
      const pusher = clientOf(upstream.url);
      image = await pushImage(pusher, "team/app", "v1", [4096]);
      signature = await pushArtifact(pusher, "team/app", image, SIGNATURE);
      sbom = await pushArtifact(pusher, "team/app", image, SBOM);
      proxy = await startProxyBerth({ upstreams: [{ name: "up.example", url: upstream.url }] });
    });
    after(async () => {
      await proxy?.stop();
      if (!upstreamStopped) await upstream?.stop();
    });

    it("passes the upstream's referrers index on, filters included; once the upstream is gone, answers with the referrers it cached", async () => {
      const url = `${proxy.url}/v2/up.example/team/app/referrers/${image.digest}`;
      const all = await get(url);
      assert.equal(all.status, 200);
      assert.equal(all.headers.get("content-type"), MediaType.OciIndex);
      assert.equal(all.headers.get("cache-status"), "Berth; fwd=uri-miss");
      const listed = indexOf(all.body).manifests.map((m) => [m.digest, m.artifactType]).sort();
      assert.deepEqual(listed, [[signature, SIGNATURE], [sbom, SBOM]].sort(), "both, though neither is cached");

      const filtered = await get(`${url}?artifactType=${encodeURIComponent(SBOM)}`);
      assert.equal(filtered.headers.get("oci-filters-applied"), "artifactType");
      assert.deepEqual(indexOf(filtered.body).manifests.map((m) => m.digest), [sbom]);

      assert.equal((await manifestOf(proxy.url, "up.example/team/app", signature)).status, 200);
      await upstream.stop();
      upstreamStopped = true;
      const stale = await get(url);
      assert.equal(stale.status, 200);
      assert.match(stale.headers.get("cache-status")!, /detail=stale/);
      assert.deepEqual(indexOf(stale.body).manifests.map((m) => m.digest), [signature], "only what the cache holds");
    });
  });
});
