import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRegistryClient } from "../../src/client/registry-client.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { pushImage, startProxyBerth } from "./support.js";

/** A second Berth, with access control, as the upstream: the token flow with credentials against Berth's own token endpoint. */
describe("pull-through cache in front of a Berth with access control", () => {
  const ADMIN = { username: "admin", password: "upstream-admin-password" };
  let upstream: TestBerth;
  let proxy: TestBerth;
  let wrong: TestBerth;

  before(async () => {
    upstream = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: ADMIN.password });
    const admin = createRegistryClient({ url: upstream.url, credentials: ADMIN });
    await pushImage(admin, "private/app", "v1", [200_000]);
    admin.close();
    proxy = await startProxyBerth({ upstreams: [{ name: "berth.up", url: upstream.url, username: ADMIN.username, password: ADMIN.password, tagTtl: "1h" }] });
    wrong = await startProxyBerth({ upstreams: [{ name: "berth.up", url: upstream.url, username: ADMIN.username, password: "not-the-password" }] });
  });
  after(async () => {
    await wrong?.stop();
    await proxy?.stop();
    await upstream?.stop();
  });

  it("pulls a private image with the configured credentials, the layer verified and cached", async () => {
    const client = createRegistryClient({ url: proxy.url });
    try {
      const manifest = await client.manifest("berth.up/private/app", "v1");
      assert.ok(manifest?.content);
      const layer = JSON.parse(manifest.content.toString()).layers[0];
      const body = await client.blobContent("berth.up/private/app", layer.digest);
      assert.equal(body?.length, 200_000);
      const again = await fetch(`${proxy.url}/v2/berth.up/private/app/blobs/${layer.digest}`, { method: "HEAD" });
      assert.match(again.headers.get("cache-status")!, /^Berth; hit/);
    } finally {
      client.close();
    }
  });

  it("says the upstream refused Berth's credentials, naming the setting, when the password is wrong", async () => {
    const res = await fetch(`${wrong.url}/v2/berth.up/private/app/manifests/v1`);
    assert.equal(res.status, 403);
    const error = (await res.json()).errors[0];
    assert.equal(error.code, "DENIED");
    assert.match(error.message, /upstream berth\.up .*credentials.*proxy\.upstreams\[0\]/);
  });
});
