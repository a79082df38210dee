// The upstream fixture the pull-through cache tests stand on (test/helpers/upstream.ts), checked with
// real clients: skopeo through the token flow, pushes with and without valid credentials, and every
// switch the proxy tests flip (error statuses, blobs cut mid-body, delays, the front going away).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MediaTypes } from "../helpers/fixtures.js";
import { writeImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type SeededImage, type SeededIndex, type Upstream } from "../helpers/upstream.js";
import { containersEnv, lowercaseTempDir, MANIFEST_ACCEPT, removeTree } from "./support.js";

const MiB = 1 << 20;

/** Reads a body to its end or to the error that ends it early. */
async function drain(res: Response): Promise<{ bytes: number; sha256: string; error?: Error }> {
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  } catch (err) {
    return { bytes, sha256: "", error: err as Error };
  }
  return { bytes, sha256: `sha256:${hash.digest("hex")}` };
}

describe("upstream fixture (distribution + token server + front)", { skip: skipUnlessTools("docker-registry", "skopeo", "openssl") }, () => {
  let root: string;
  let env: Record<string, string>;
  let up: Upstream;
  let image: SeededImage;
  let multi: SeededIndex;

  const skopeo = (args: string[], allowFail = false) => run("skopeo", args, { env, allowFail, timeoutMs: 60_000 });
  const pullToken = async (repo: string): Promise<string> => {
    const res = await fetch(`${up.tokenUrl}?service=${up.service}&scope=repository:${repo}:pull`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { token: string }).token;
  };
  const getManifest = async (repo: string, ref: string, method = "GET"): Promise<Response> =>
    fetch(`${up.url}/v2/${repo}/manifests/${ref}`, {
      method,
      headers: { accept: MANIFEST_ACCEPT, authorization: `Bearer ${await pullToken(repo)}` },
    });
  const getBlob = async (repo: string, digest: string): Promise<Response> =>
    fetch(`${up.url}/v2/${repo}/blobs/${digest}`, { headers: { authorization: `Bearer ${await pullToken(repo)}` } });

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-upstream");
    env = await containersEnv(join(root, "containers"));
    up = await startUpstream({ users: { alice: "secret" } });
    image = await up.push("library/x", "tag", { layerBytes: 4 * MiB });
    multi = await up.pushIndex("library/multi", "v1", { layerBytes: 64 * 1024 });
    await up.clearLogs();
  });

  after(async () => {
    await up?.stop();
    if (root) await removeTree(root);
  });

  it("answers an anonymous skopeo inspect through the front after a token round trip", async () => {
    const tokensBefore = up.tokenRequests();
    const out = await skopeo(["inspect", "--tls-verify=false", `docker://${up.host}/library/x:tag`]);
    const inspected = JSON.parse(out.stdout) as { Digest: string; Layers: string[] };
    assert.equal(inspected.Digest, image.manifestDigest);
    assert.deepEqual(inspected.Layers, image.layerDigests);
    assert.ok(up.tokenRequests() > tokensBefore, "skopeo fetched a token");
    const token = up.tokenLog().at(-1)!;
    assert.equal(token.account, undefined);
    assert.deepEqual(token.scopes, ["repository:library/x:pull"]);
    assert.deepEqual(token.granted, [{ type: "repository", name: "library/x", actions: ["pull"] }]);
    const seen = up.requests().map((r) => `${r.method} ${r.path} ${r.status}`);
    assert.ok(seen.includes("GET /v2/ 401"), seen.join("\n"));
    assert.ok(seen.includes("GET /v2/library/x/manifests/tag 200"), seen.join("\n"));
  });

  it("takes a push with valid credentials and refuses a wrong password and anonymous pushes", async () => {
    const layout = await writeImageLayout(join(root, "app"), { ref: "1", layers: [{ files: { "app.txt": "pushed through the front\n" } }] });
    const dest = `docker://${up.host}/team/app:1`;
    const copy = (creds: string[]) =>
      skopeo(["copy", "--preserve-digests", "--dest-tls-verify=false", ...creds, `oci:${layout.dir}:1`, dest], true);

    const wrong = await copy(["--dest-creds", "alice:wrong"]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /401|unauthorized|authentication required/i);
    assert.ok(up.tokenLog().some((t) => t.account === "alice" && t.status === 401));

    const anonymous = await copy([]);
    assert.notEqual(anonymous.code, 0, "an anonymous token carries pull only");

    const ok = await copy(["--dest-creds", "alice:secret"]);
    assert.equal(ok.code, 0, ok.stderr);
    const granted = up.tokenLog().filter((t) => t.account === "alice" && t.status === 200).flatMap((t) => t.granted);
    assert.ok(granted.some((g) => g.name === "team/app" && g.actions.includes("push")));
    const res = await getManifest("team/app", "1");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-content-digest"), layout.manifestDigest);
  });

  it("serves the two-platform index it seeded", async () => {
    const res = await getManifest("library/multi", "v1");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-content-digest"), multi.indexDigest);
    const index = (await res.json()) as { mediaType: string; manifests: { digest: string; platform: { architecture: string } }[] };
    assert.equal(index.mediaType, MediaTypes.ociIndex);
    assert.deepEqual(index.manifests.map((m) => m.platform.architecture), ["amd64", "arm64"]);
    assert.deepEqual(index.manifests.map((m) => m.digest), multi.manifestDigests);
    const child = await getManifest("library/multi", multi.children[1]!.manifestDigest);
    assert.equal(child.status, 200);
    assert.deepEqual(((await child.json()) as { layers: { digest: string }[] }).layers.map((l) => l.digest), multi.children[1]!.layerDigests);
  });

  it("adds Docker Hub's rate-limit headers to manifest responses, counting GETs and not HEADs", async () => {
    const first = await getManifest("library/x", "tag");
    await first.arrayBuffer();
    assert.equal(first.headers.get("ratelimit-limit"), "100;w=21600");
    const n = Number(/^(\d+);w=21600$/.exec(first.headers.get("ratelimit-remaining") ?? "")?.[1]);
    assert.ok(n < 100, `remaining ${n}`);
    const head = await getManifest("library/x", "tag", "HEAD");
    assert.equal(head.headers.get("ratelimit-remaining"), `${n};w=21600`);
    const second = await getManifest("library/x", "tag");
    await second.arrayBuffer();
    assert.equal(second.headers.get("ratelimit-remaining"), `${n - 1};w=21600`);
    assert.equal(up.rateLimitRemaining(), n - 1);
    assert.equal((await getBlob("library/x", image.configDigest)).headers.get("ratelimit-remaining"), null);
  });

  it("answers 429 TOOMANYREQUESTS with Retry-After while the switch is on, and for `times` requests only", async () => {
    up.failWith(429, { retryAfter: 7 });
    const limited = await getManifest("library/x", "tag");
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "7");
    assert.equal(((await limited.json()) as { errors: { code: string }[] }).errors[0]!.code, "TOOMANYREQUESTS");
    up.failWith(undefined);
    assert.equal((await getManifest("library/x", "tag")).status, 200);

    up.failWith(503, { times: 1, match: /\/blobs\// });
    assert.equal((await getManifest("library/x", "tag")).status, 200, "match leaves manifests alone");
    assert.equal((await getBlob("library/x", image.configDigest)).status, 503);
    assert.equal((await getBlob("library/x", image.configDigest)).status, 200, "times: 1 clears after one");
  });

  it("cuts blob GETs after the given bytes, counts blob GETs and distribution's own sends", async () => {
    const layer = image.layerDigests[0]!;
    await up.clearLogs();
    up.cutBlobsAfter(MiB);
    const cut = await getBlob("library/x", layer);
    assert.equal(cut.status, 200);
    assert.equal(cut.headers.get("content-length"), String(image.layerSizes[0]));
    const short = await drain(cut);
    assert.ok(short.error, "the body ends in an error, not a clean end");
    assert.equal(short.bytes, MiB);
    assert.equal(up.requests().at(-1)!.cut, true);

    up.cutBlobsAfter(undefined);
    const whole = await drain(await getBlob("library/x", layer));
    assert.equal(whole.error, undefined);
    assert.equal(whole.sha256, layer);

    assert.equal(up.blobGets(layer), 2);
    assert.equal(up.blobGets(image.configDigest), 0);
    const sends = (await up.distributionLog()).filter((e) => e.method === "GET" && e.uri.endsWith(layer));
    assert.equal(sends.length, 2, sends.map((e) => e.line).join("\n"));
    assert.equal(await up.distributionBlobSends(layer), 2);
  });

  it("delays answers, and refuses connections while the front is stopped", async () => {
    up.delay(300);
    const started = Date.now();
    assert.equal((await fetch(`${up.url}/v2/`)).status, 401);
    assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms`);
    up.delay(0);

    await up.stopFront();
    await assert.rejects(fetch(`${up.url}/v2/`), (err: Error & { cause?: { code?: string } }) => err.cause?.code === "ECONNREFUSED");
    await up.startFront();
    assert.equal((await fetch(`${up.url}/v2/`)).status, 401);
  });

  it("runs without auth when asked", async () => {
    const open = await startUpstream({ auth: false });
    try {
      const seeded = await open.push("library/open", "1", { layerBytes: 1024 });
      assert.equal(open.tokenUrl, undefined);
      const res = await fetch(`${open.url}/v2/library/open/manifests/1`, { headers: { accept: MANIFEST_ACCEPT } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("docker-content-digest"), seeded.manifestDigest);
    } finally {
      await open.stop();
    }
  });
});
