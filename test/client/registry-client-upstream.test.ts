// The registry client against the Docker Hub lookalike the proxy tests use (test/helpers/upstream.ts:
// distribution 2.8 behind a Docker-style token server and a front with rate limits): the token
// flow anonymous and with credentials, counted at the token server, and pushes of every kind
// accepted by distribution itself.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createRegistryClient, type RegistryClient } from "../../src/client/registry-client.js";
import type { Digest } from "../../src/oci/digest.js";
import { makeImage } from "../helpers/fixtures.js";
import { pushImage } from "../helpers/push.js";
import { skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type SeededImage, type Upstream } from "../helpers/upstream.js";

describe("registry client against the upstream fixture (distribution behind a token server)", { skip: skipUnlessTools("docker-registry", "skopeo", "openssl") }, () => {
  let up: Upstream;
  let seeded: SeededImage;
  const clients: RegistryClient[] = [];
  const client = (credentials?: { username: string; password: string }) => {
    const c = createRegistryClient({ url: up.url, timeoutMs: 10_000, ...(credentials ? { credentials } : {}) });
    clients.push(c);
    return c;
  };

  before(async () => {
    up = await startUpstream({ users: { alice: "alice-secret" } });
    seeded = await up.push("library/x", "tag", { layerBytes: 64 * 1024 });
    await up.pushIndex("library/multi", "v1", { layerBytes: 1024 });
    await up.clearLogs();
  });
  after(async () => {
    for (const c of clients) c.close();
    await up?.stop();
  });

  it("pulls anonymously with one token per repository scope, cached across manifests, HEADs, blobs and tags", async () => {
    const anonymous = client();
    const before = up.tokenRequests();
    const manifest = await anonymous.manifest("library/x", "tag");
    assert.equal(manifest?.digest, seeded.manifestDigest);
    assert.equal(up.tokenRequests() - before, 1);
    assert.deepEqual(up.tokenLog().at(-1)!.scopes, ["repository:library/x:pull"]);
    assert.equal(up.tokenLog().at(-1)!.account, undefined);

    assert.equal((await anonymous.manifest("library/x", "tag", { method: "HEAD" }))?.digest, seeded.manifestDigest);
    const layer = await anonymous.blobContent("library/x", seeded.layerDigests[0] as Digest, 1 << 20);
    assert.equal(layer?.length, seeded.layerSizes[0]);
    assert.equal(await anonymous.blobSize("library/x", seeded.configDigest as Digest), (await anonymous.blobContent("library/x", seeded.configDigest as Digest))?.length);
    assert.deepEqual((await anonymous.tags("library/x"))?.tags, ["tag"]);
    assert.equal(up.tokenRequests() - before, 1, "the token is reused for every pull of library/x");
    assert.equal(anonymous.tokensFetched, 1);

    const index = await anonymous.manifest("library/multi", "v1");
    assert.equal(JSON.parse(index!.content!.toString()).manifests.length, 2);
    assert.equal(up.tokenRequests() - before, 2, "another repository, another scope, another token");
  });

  it("pushes with credentials (monolithic, chunked, streamed) on one pull,push token, reads back, and deletes", async () => {
    const alice = client({ username: "alice", password: "alice-secret" });
    const before = up.tokenRequests();
    const refusals = () => up.requests().filter((r) => r.status === 401).length;
    const refusedBefore = refusals();
    const image = makeImage({ layers: [randomBytes(50_000), randomBytes(30_000)] });
    await alice.pushBlob("alice/app", image.layers[0]!, { chunkSize: 16 * 1024 });
    await alice.pushBlob("alice/app", { open: () => Readable.from([image.layers[1]!.subarray(0, 10_000), image.layers[1]!.subarray(10_000)]) });
    const digest = await pushImage(alice, "alice/app", "v1", image);
    assert.equal(digest, image.manifestDigest);
    const pushToken = up.tokenLog().at(-1)!;
    assert.equal(pushToken.account, "alice");
    assert.deepEqual(pushToken.scopes, ["repository:alice/app:pull,push"]);
    assert.equal(up.tokenRequests() - before, 1, "one token for the whole push");

    assert.deepEqual((await alice.manifest("alice/app", "v1"))?.content, image.manifest);
    for (const [i, layer] of image.layers.entries()) assert.deepEqual(await alice.blobContent("alice/app", image.layerDigests[i] as Digest), layer);
    assert.equal(up.tokenRequests() - before, 2, "pulls ask for repository:alice/app:pull");
    assert.equal(refusals() - refusedBefore, 1, "one 401 teaches the token flow; tokens for later scopes are fetched before asking");

    await up.deleteManifest("alice/app", digest);
    assert.equal(await alice.manifest("alice/app", digest), undefined);
  });

  it("fails at the token server with wrong credentials, and anonymously for a push, with the status", async () => {
    await assert.rejects(client({ username: "alice", password: "wrong" }).manifest("library/x", "tag"), (err: Error & { kind?: string; status?: number }) =>
      err.name === "RegistryClientError" && err.kind === "status" && err.status === 401 && /credentials refused/.test(err.message),
    );
    await assert.rejects(client().pushBlob("library/x", randomBytes(10)), { name: "RegistryClientError", status: 401, code: "UNAUTHORIZED" });
  });

  it("reports the front's 429 with its code and Retry-After, and answers again once it lifts", async () => {
    const anonymous = client();
    up.failWith(429, { retryAfter: 7, times: 1 });
    await assert.rejects(anonymous.manifest("library/x", "tag"), { status: 429, code: "TOOMANYREQUESTS", retryAfterMs: 7000 });
    assert.equal((await anonymous.manifest("library/x", "tag"))?.digest, seeded.manifestDigest);
  });
});
