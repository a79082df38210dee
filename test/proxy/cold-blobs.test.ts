// Cold blobs through the pull-through cache in front of real distribution (the upstream fixture,
// no auth): clients joining one fetch, ranges while it runs, an upstream that dies mid-blob, and
// what the cache keeps afterwards (the blob, and nothing in the spool or the staging area).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type SeededImage, type Upstream } from "../helpers/upstream.js";
import { startProxyBerth } from "./support.js";

const MiB = 1 << 20;

/** Reads a body to its end, or to the error that ends it early. */
async function drain(res: Response): Promise<{ bytes: Buffer; error?: Error }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
  } catch (err) {
    return { bytes: Buffer.concat(chunks), error: err as Error };
  }
  return { bytes: Buffer.concat(chunks) };
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Waits (up to 2 s: a reader gives its lease back just after its response ends) until `dir` is empty. */
async function emptied(dir: string): Promise<string[]> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const left = await readdir(dir).catch(() => []);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("cold blobs through the pull-through cache", { skip: skipUnlessTools("docker-registry", "skopeo") }, () => {
  let up: Upstream;
  let berth: TestBerth;
  let scratch: string;
  let spool: string;
  let image: SeededImage;
  let layer: Buffer;
  let digest: string;
  const blobUrl = () => `${berth.url}/v2/docker.io/team/big/blobs/${digest}`;

  before(async () => {
    up = await startUpstream({ auth: false });
    image = await up.push("team/big", "v1", { layerBytes: 8 * MiB });
    digest = image.layerDigests[0]!;
    layer = Buffer.from(await (await fetch(`${up.distributionUrl}/v2/team/big/blobs/${digest}`)).arrayBuffer());
    assert.equal(sha256(layer), digest);
    scratch = await mkdtemp(join(tmpdir(), "berth-cold-blobs-"));
    spool = join(scratch, "spool");
  });
  beforeEach(async () => {
    await berth?.stop();
    berth = await startProxyBerth({ spoolDir: spool, upstreams: [{ name: "docker.io", url: up.url, default: true }] });
    up.delay(0);
    up.cutBlobsAfter(undefined);
    await up.clearLogs();
  });
  after(async () => {
    await berth?.stop();
    await up?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("GET by two clients at once: one upstream fetch, both bodies whole, then a hit; spool and uploads/ empty", async () => {
    up.delay(300); // both requests arrive before the upstream answers
    const [a, b] = await Promise.all([fetch(blobUrl()), fetch(blobUrl())]);
    const statuses = [a, b].map((r) => r.headers.get("cache-status")).sort();
    assert.deepEqual(statuses, ["Berth; fwd=uri-miss; collapsed", "Berth; fwd=uri-miss; stored"]);
    assert.deepEqual([a.headers.get("content-length"), b.headers.get("content-length")], [String(layer.length), String(layer.length)]);
    const [bodyA, bodyB] = await Promise.all([drain(a), drain(b)]);
    assert.equal(bodyA.error, undefined);
    assert.equal(sha256(bodyA.bytes), digest);
    assert.equal(sha256(bodyB.bytes), digest);
    assert.equal(up.blobGets(digest), 1);
    up.delay(0);
    const again = await fetch(blobUrl());
    assert.equal(again.headers.get("cache-status"), "Berth; hit");
    assert.equal(sha256((await drain(again)).bytes), digest);
    assert.deepEqual(await emptied(spool), []);
    assert.deepEqual(await emptied(join(berth.data, "uploads")), []);
  });

  it("GET with Range while the blob is being fetched: 206 with exactly those bytes", async () => {
    up.delay(200);
    const whole = fetch(blobUrl());
    const start = 3 * MiB + 17;
    const end = 5 * MiB;
    const part = await fetch(blobUrl(), { headers: { range: `bytes=${start}-${end}` } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes ${start}-${end}/${layer.length}`);
    assert.deepEqual((await drain(part)).bytes, layer.subarray(start, end + 1));
    assert.equal(sha256((await drain(await whole)).bytes), digest);
    assert.equal(up.blobGets(digest), 1);
  });

  it("an upstream that dies mid-blob: the client's body ends short, nothing is stored, the next GET fetches it whole", async () => {
    up.cutBlobsAfter(2 * MiB);
    const cut = await fetch(blobUrl());
    assert.equal(cut.status, 200);
    const body = await drain(cut);
    assert.ok(body.error, "the body must fail, not end as if complete");
    assert.ok(body.bytes.length < layer.length, `${body.bytes.length} bytes of ${layer.length}`);
    assert.deepEqual(body.bytes, layer.subarray(0, body.bytes.length));
    assert.deepEqual(await emptied(spool), []);
    assert.deepEqual(await emptied(join(berth.data, "uploads")), []);

    up.cutBlobsAfter(undefined);
    const retry = await fetch(blobUrl());
    assert.equal(retry.headers.get("cache-status"), "Berth; fwd=uri-miss; stored");
    assert.equal(sha256((await drain(retry)).bytes), digest);
    assert.equal((await fetch(blobUrl(), { method: "HEAD" })).headers.get("cache-status"), "Berth; hit");
  });

  it("a blob over the cache namespace's quota: refused with 403 DENIED before any byte is sent, nothing stored", async () => {
    const config = join(scratch, "quota.json");
    await writeFile(config, JSON.stringify({
      proxy: { spoolDir: spool, upstreams: [{ name: "docker.io", url: up.url, default: true }] },
      quotas: { rules: [{ namespace: "docker.io", limit: "4MiB" }] },
    }));
    const limited = await startBerth({ BERTH_CONFIG: config });
    try {
      const res = await fetch(`${limited.url}/v2/docker.io/team/big/blobs/${digest}`);
      assert.equal(res.status, 403);
      assert.match(await res.text(), /quota exceeded/);
      assert.deepEqual(await emptied(spool), []);
      assert.equal((await fetch(`${limited.url}/v2/docker.io/team/big/blobs/${digest}`, { method: "HEAD" })).headers.get("cache-status"), "Berth; fwd=uri-miss");
    } finally {
      await limited.stop();
    }
  });
});
