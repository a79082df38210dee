import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage, makeLayer, sha256, type TestImage } from "../helpers/fixtures.js";
import { skipUnlessOwnStores, startOwnPostgres, startOwnRadosgw, type StoreServer } from "../helpers/outage.js";
import { clientOf, pushImage } from "../helpers/push.js";
import { deleteBucket, uniqueBucket } from "../helpers/services.js";
import { capturingLogger, sleep } from "../http/limits-support.js";

/**
 * S3 + PostgreSQL with a store that stalls (SIGSTOP) or goes away (killed) under a running Berth:
 * requests answer 503 UNAVAILABLE naming the store within a bound, the server comes back by
 * itself, and what was pushed is intact. Timeouts are tuned down (1 s connect, 2 s per
 * statement or silence) so the suite stays short; the bound asserted is 10 s.
 */

const BOUND_MS = 10_000;

interface Answer {
  status: number;
  ms: number;
  json?: { errors?: { code: string; message: string }[]; status?: string; stores?: Record<string, string> };
  retryAfter: string | null;
  location: string | null;
  body: Buffer;
}

describe("a stalled or stopped store under Berth on S3 + PostgreSQL", { skip: skipUnlessOwnStores() }, () => {
  let pg: StoreServer & { url: string };
  let rgw: StoreServer & { endpoint: string };
  let berth: TestBerth;
  const bucket = uniqueBucket("berth-outage");
  const { logger, lines } = capturingLogger();
  const image = makeImage({ layers: [makeLayer({ blob: randomBytes(300_000) })] });

  before(async () => {
    [pg, rgw] = await Promise.all([startOwnPostgres(), startOwnRadosgw()]);
    berth = await startBerth(
      {
        BERTH_STORAGE_DRIVER: "s3",
        BERTH_S3_ENDPOINT: rgw.endpoint,
        BERTH_S3_BUCKET: bucket,
        BERTH_S3_ACCESS_KEY: process.env.BERTH_TEST_S3_ACCESS_KEY!,
        BERTH_S3_SECRET_KEY: process.env.BERTH_TEST_S3_SECRET_KEY!,
        BERTH_S3_FORCE_PATH_STYLE: "true",
        BERTH_DATABASE_URL: pg.url,
        BERTH_DATABASE_CONNECT_TIMEOUT: "1s",
        BERTH_DATABASE_QUERY_TIMEOUT: "2s",
        BERTH_S3_CONNECT_TIMEOUT: "1s",
        BERTH_S3_TIMEOUT: "2s",
        BERTH_GC_SCHEDULE: "off",
      },
      { logger },
    );
    const client = clientOf(berth.url);
    await pushImage(client, "outage/app", "v1", image);
    client.close();
  });

  after(async () => {
    pg?.thaw();
    rgw?.thaw();
    await berth?.stop();
    await deleteBucket(bucket).catch(() => {});
    await Promise.all([pg?.stop(), rgw?.stop()]);
  });

  async function call(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    const started = Date.now();
    const res = await fetch(berth.url + path, { method, ...(body ? { body: new Uint8Array(body) } : {}), headers, signal: AbortSignal.timeout(30_000) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const json = bytes.length > 0 && (res.headers.get("content-type") ?? "").includes("json") ? (JSON.parse(bytes.toString()) as Answer["json"]) : undefined;
    return { status: res.status, ms: Date.now() - started, json, retryAfter: res.headers.get("retry-after"), location: res.headers.get("location"), body: bytes };
  }

  const getManifest = (ref: string) => call("GET", `/v2/outage/app/manifests/${ref}`, undefined, { Accept: image.manifestMediaType });
  const putManifest = (ref: string, img: TestImage = image) =>
    call("PUT", `/v2/outage/app/manifests/${ref}`, img.manifest, { "Content-Type": img.manifestMediaType });
  const getLayer = () => call("GET", `/v2/outage/app/blobs/${image.layerDigests[0]}`);
  const monolithic = (data: Buffer) =>
    call("POST", `/v2/outage/app/blobs/uploads/?digest=${sha256(data)}`, data, { "Content-Type": "application/octet-stream" });

  function assertUnavailable(what: string, a: Answer, store: RegExp): void {
    assert.equal(a.status, 503, `${what}: ${a.status} ${a.body.toString().slice(0, 200)}`);
    assert.equal(a.json?.errors?.[0]?.code, "UNAVAILABLE", what);
    assert.match(a.json?.errors?.[0]?.message ?? "", store, what);
    assert.ok(Number(a.retryAfter) > 0, `${what}: Retry-After`);
    assert.ok(a.ms < BOUND_MS, `${what}: answered in ${a.ms} ms`);
  }

  async function waitReady(): Promise<number> {
    const started = Date.now();
    for (;;) {
      if ((await call("GET", "/readyz")).status === 200) return Date.now() - started;
      assert.ok(Date.now() - started < BOUND_MS, "ready again within 10 s");
      await sleep(200);
    }
  }

  /** v1 still pulls byte-exact: manifest and layer. */
  async function assertIntact(): Promise<void> {
    const manifest = await getManifest("v1");
    assert.equal(manifest.status, 200);
    assert.deepEqual(manifest.body, image.manifest);
    const layer = await getLayer();
    assert.equal(layer.status, 200);
    assert.deepEqual(layer.body, image.layers[0]);
  }

  const warnings = (store: string) => lines.filter((l) => l.msg === "store unavailable: answering 503" && l.store === store);
  const errors = () => lines.filter((l) => l.level === "error");

  it("PostgreSQL stalled: manifest, blob, upload and catalog requests answer 503 naming it, then recover after SIGCONT", async () => {
    const warnedBefore = warnings("metadata").length;
    pg.freeze();
    let answers: Answer[];
    try {
      answers = await Promise.all([
        getManifest("v1"),
        putManifest("stalled"),
        getLayer(),
        monolithic(randomBytes(1000)),
        call("GET", "/v2/_catalog"),
        call("GET", "/readyz"),
        call("GET", "/v2/"),
      ]);
    } finally {
      pg.thaw();
    }
    const [manifest, put, layer, upload, catalog, ready, base] = answers;
    for (const [what, a] of [["manifest GET", manifest], ["manifest PUT", put], ["blob GET", layer], ["upload", upload], ["catalog", catalog]] as const) {
      assertUnavailable(what, a!, /metadata database \(PostgreSQL\) is unavailable/);
    }
    assert.equal(ready!.status, 503);
    assert.match(ready!.json?.stores?.metadata ?? "", /PostgreSQL/);
    assert.equal(ready!.json?.stores?.blobs, undefined, "readyz names only the failing store");
    assert.equal(base!.status, 200, "/v2/ needs no store");
    assert.equal(warnings("metadata").length - warnedBefore, 1, "one warning for the outage, not one per request");
    assert.deepEqual(errors(), [], "no error lines");

    await waitReady();
    await assertIntact();
    assert.equal((await putManifest("after-stall")).status, 201, "a push after the outage succeeds");
    assert.equal((await getManifest("stalled")).status, 404, "the PUT refused during the outage left no tag");
  });

  it("radosgw stalled: blob reads and uploads answer 503 naming the object store, manifests keep being served", async () => {
    rgw.freeze();
    let answers: Answer[];
    try {
      answers = await Promise.all([getLayer(), monolithic(randomBytes(1000)), getManifest("v1"), call("GET", "/readyz")]);
    } finally {
      rgw.thaw();
    }
    const [layer, upload, manifest, ready] = answers;
    assertUnavailable("blob GET", layer!, /object store \(S3\) is unavailable/);
    assertUnavailable("upload", upload!, /object store \(S3\) is unavailable/);
    assert.equal(manifest!.status, 200, "manifests live in PostgreSQL");
    assert.equal(ready!.status, 503);
    assert.match(ready!.json?.stores?.blobs ?? "", /S3/);
    assert.deepEqual(errors(), []);
    await waitReady();
    await assertIntact();
  });

  it("a push cut by an outage leaves no half blob and no manifest over missing content; its retry succeeds", async () => {
    const layer = randomBytes(2_000_000);
    const digest = sha256(layer);
    const open = await call("POST", "/v2/outage/app/blobs/uploads/");
    assert.equal(open.status, 202);
    const half = layer.subarray(0, 1_000_000);
    const session = new URL(open.location!, berth.url);
    const patched = await call("PATCH", session.pathname + session.search, half, {
      "Content-Type": "application/octet-stream",
      "Content-Range": `0-${half.length - 1}`,
    });
    assert.equal(patched.status, 202);
    const next = new URL(patched.location!, berth.url);
    next.searchParams.set("digest", digest);
    const rest = layer.subarray(half.length);

    rgw.freeze();
    let commit: Answer;
    try {
      commit = await call("PUT", next.pathname + next.search, rest, { "Content-Type": "application/octet-stream" });
    } finally {
      rgw.thaw();
    }
    assertUnavailable("commit", commit, /object store/);
    await waitReady();
    assert.equal((await call("HEAD", `/v2/outage/app/blobs/${digest}`)).status, 404, "no half blob is visible");
    const img = makeImage({ layers: [layer] });
    const refused = await putManifest("cut", img);
    assert.equal(refused.status, 400, "a manifest over the missing layer is refused");

    const client = clientOf(berth.url);
    try {
      await pushImage(client, "outage/app", "cut", img);
    } finally {
      client.close();
    }
    const pulled = await call("GET", `/v2/outage/app/blobs/${digest}`);
    assert.equal(pulled.status, 200);
    assert.deepEqual(pulled.body, layer, "the retried push pulls byte-exact");
  });

  it("a blob download is bounded by the store's silence, never by a slow puller", async () => {
    const big = randomBytes(24 * 1024 * 1024);
    const client = clientOf(berth.url);
    const digest = await client.pushBlob("outage/app", big).finally(() => client.close());
    const reader = async () => {
      const res = await fetch(`${berth.url}/v2/outage/app/blobs/${digest}`);
      assert.equal(res.status, 200);
      return res.body!.getReader();
    };

    // A puller that stops reading for longer than storage.s3.timeout (2 s) still gets every byte.
    const slow = await reader();
    const got: Uint8Array[] = [];
    const first = await slow.read();
    got.push(first.value!);
    await sleep(3500);
    for (let r = await slow.read(); !r.done; r = await slow.read()) got.push(r.value);
    assert.deepEqual(Buffer.concat(got), big, "a slow puller is not cut");

    // A store that stalls mid-transfer cuts the download (the status is sent): an error, not a hang.
    const cut = await reader();
    await cut.read();
    rgw.freeze();
    const started = Date.now();
    try {
      await assert.rejects(async () => {
        for (let r = await cut.read(); !r.done; r = await cut.read());
      }, "the download is cut");
    } finally {
      rgw.thaw();
    }
    assert.ok(Date.now() - started < BOUND_MS, `cut after ${Date.now() - started} ms`);
    await waitReady();
  });

  it("stopped (port closed) and restarted: 503 at once, then back without restarting Berth", async () => {
    await pg.kill();
    try {
      assertUnavailable("manifest GET, PostgreSQL down", await getManifest("v1"), /PostgreSQL.*cannot connect/);
    } finally {
      await pg.restart();
    }
    await waitReady();
    await rgw.kill();
    try {
      assertUnavailable("blob GET, radosgw down", await getLayer(), /object store.*cannot connect/);
    } finally {
      await rgw.restart();
    }
    await waitReady();
    await assertIntact();
    assert.deepEqual(errors(), []);
  });
});
