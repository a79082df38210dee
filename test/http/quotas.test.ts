import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, MT, assertError, descriptor, digestOf, json, randomBlob, uniqueName } from "./client.js";

// Every namespace starting with `q` gets 10000 bytes (warning at half); each `r…/capped` repository 3000.
/** A body sent with chunked transfer encoding (no Content-Length). */
const streamOf = (bytes: Buffer) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });

/**
 * PATCHes `total` random bytes with chunked encoding, writing only as fast as the connection
 * takes them, and stops writing once an answer arrives; tells how many bytes were handed to the
 * socket by then. A connection reset before any answer fails.
 */
function streamUntilAnswered(url: URL, total: number): Promise<{ status: number; body: string; sentBeforeAnswer: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request(url, { method: "PATCH", headers: { "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked" } });
    req.on("response", (res) => {
      answered = true;
      const sentBeforeAnswer = sent;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), sentBeforeAnswer }));
      res.on("error", reject);
    });
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    const chunk = randomBytes(64 * 1024);
    const write = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", write);
      }
      if (!answered) req.end();
    };
    write();
  });
}

const QUOTAS = `
quotas:
  warnAt: 0.5
  rules:
    - name: small-namespaces
      namespace: "q*"
      limit: 10000
    - name: capped
      repositories: "r*/capped"
      limit: 3000
`;

describe("quotas and usage over HTTP", () => {
  let dir: string;
  let b: TestBerth;
  let c: Client;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-quotas-"));
    await writeFile(join(dir, "berth.yaml"), QUOTAS);
    b = await startBerth({ BERTH_CONFIG: join(dir, "berth.yaml") });
    c = new Client(b.url);
  });
  after(async () => {
    await b.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const postWhole = (name: string, bytes: Buffer) =>
    c.request("POST", `/v2/${name}/blobs/uploads/?digest=${digestOf(bytes)}`, {
      headers: { "Content-Type": "application/octet-stream" },
      body: bytes,
    });
  /** A manifest over a config and `layer`, both pushed to `name`. */
  async function imageWith(name: string, layer: Buffer) {
    const config = json({ architecture: "amd64", os: "linux", nonce: uniqueName() });
    await c.pushBlob(name, config);
    await c.pushBlob(name, layer);
    const manifest = json({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: descriptor(MT.ociConfig, config),
      layers: [descriptor(MT.ociLayer, layer)],
    });
    return { manifest, config };
  }

  it("POST ?digest= with a Content-Length over the namespace quota is refused with 403 DENIED before the body is stored", async () => {
    const name = `${uniqueName("q")}/app`;
    const bytes = randomBlob(12_000);
    const res = await postWhole(name, bytes);
    const err = assertError(res, 403, "DENIED");
    assert.match(err.message, /^quota exceeded: namespace q-[0-9a-f]+ uses 0 B of 9\.77 KiB .*quota rule "small-namespaces".*would add 11\.7 KiB/);
    assert.deepEqual(
      { ...(err as { detail: Record<string, unknown> }).detail },
      { namespace: name.split("/")[0], used: 0, limit: 10000, adding: 12000, rule: "small-namespaces" },
    );
    assert.equal((await c.head(`/v2/${name}/blobs/${digestOf(bytes)}`)).status, 404);
  });

  it("PATCH with a Content-Length over the quota is refused; the upload keeps what it had", async () => {
    const name = `${uniqueName("q")}/app`;
    const location = await c.startUpload(name);
    assert.equal((await c.patch(location, randomBlob(4000), 0)).status, 202);
    const err = assertError(await c.patch(location, randomBlob(7000), 4000), 403, "DENIED");
    assert.match(err.message, /quota exceeded: namespace q-\w+ uses 0 B of 9\.77 KiB.*would add 10\.7 KiB/);
    const status = await c.get(location);
    assert.equal(status.headers.get("range"), "0-3999");
  });

  it("PATCH without a length is answered 403 DENIED while the client is still sending; the upload is discarded", async () => {
    const name = `${uniqueName("q")}/app`;
    const location = await c.startUpload(name);
    const total = 64 * 1024 * 1024;
    const answer = await streamUntilAnswered(new URL(location, b.url), total);
    assert.equal(answer.status, 403, answer.body);
    const err = (JSON.parse(answer.body) as { errors: { code: string; message: string }[] }).errors[0]!;
    assert.equal(err.code, "DENIED");
    assert.match(err.message, /^quota exceeded: namespace q-\w+ uses 0 B of 9\.77 KiB/);
    // Socket buffers hold a few MiB at most: the server stopped reading near the quota.
    assert.ok(answer.sentBeforeAnswer < total / 4, `${answer.sentBeforeAnswer} of ${total} bytes were sent before the answer`);
    assertError(await c.get(location), 404, "BLOB_UPLOAD_UNKNOWN");
    const usage = (await c.get(`/api/v1/usage/${name.split("/")[0]}`)).json();
    assert.equal(usage.total?.referencedBytes ?? 0, 0);
  });

  it("a final chunk without a length is stopped at the quota too; a blob the namespace holds still goes", async () => {
    const ns = uniqueName("q");
    const bytes = randomBlob(11_000);
    const location = await c.startUpload(`${ns}/app`);
    const put = await c.request("PUT", `${location}${location.includes("?") ? "&" : "?"}digest=${digestOf(bytes)}`, {
      headers: { "Content-Type": "application/octet-stream" },
      body: streamOf(bytes),
    });
    assertError(put, 403, "DENIED");
    assert.equal((await c.head(`/v2/${ns}/app/blobs/${digestOf(bytes)}`)).status, 404);
    assertError(await c.get(location), 404, "BLOB_UPLOAD_UNKNOWN");

    const known = randomBlob(6000);
    assert.equal((await postWhole(`${ns}/a`, known)).status, 201);
    const again = await c.startUpload(`${ns}/b`);
    const patched = await c.request("PATCH", again, { headers: { "Content-Type": "application/octet-stream" }, body: streamOf(known.subarray(0, 3000)) });
    assert.equal(patched.status, 202, patched.text());
    const next = patched.headers.get("location")!;
    const done = await c.request("PUT", `${next}${next.includes("?") ? "&" : "?"}digest=${digestOf(known)}`, {
      headers: { "Content-Type": "application/octet-stream" },
      body: streamOf(known.subarray(3000)),
    });
    assert.equal(done.status, 201, `6000 bytes the namespace already holds add nothing: ${done.text()}`);
  });

  it("a namespace at its quota refuses new upload sessions; other namespaces and known blobs still go", async () => {
    const ns = uniqueName("q");
    const full = randomBlob(10_000);
    assert.equal((await postWhole(`${ns}/a`, full)).status, 201, "exactly the limit fits");
    const err = assertError(await c.request("POST", `/v2/${ns}/b/blobs/uploads/`), 403, "DENIED");
    assert.match(err.message, /namespace q-\w+ uses 9\.77 KiB of 9\.77 KiB \(100%.*no new upload is accepted/);
    // The same blob again adds nothing to the namespace.
    assert.equal((await postWhole(`${ns}/b`, full)).status, 201);
    await c.startUpload(`${uniqueName("q")}/c`);
  });

  it("PUT manifest whose own bytes would take the namespace over is refused; blobs are not enough to fail", async () => {
    const name = `${uniqueName("q")}/app`;
    const { manifest } = await imageWith(name, randomBlob(9_700));
    const err = assertError(await c.putManifest(name, "v1", manifest, MT.ociManifest), 403, "DENIED");
    assert.match(err.message, /quota exceeded: namespace q-\w+ uses 9\.\d+ KiB of 9\.77 KiB.*would add \d+ B/);
    assertError(await c.get(`/v2/${name}/manifests/v1`), 404, "MANIFEST_UNKNOWN");
  });

  it("repository rules limit each matching repository on its own", async () => {
    const ns = uniqueName("r");
    const err = assertError(await postWhole(`${ns}/capped`, randomBlob(3500)), 403, "DENIED");
    assert.match(err.message, /quota exceeded: repository r-\w+\/capped uses 0 B of 2\.93 KiB .*quota rule "capped"/);
    assert.equal((await postWhole(`${ns}/free`, randomBlob(3500))).status, 201, "other repositories are not capped");
  });

  it("pushes past the warning threshold carry Berth-Quota-Warning", async () => {
    const ns = uniqueName("q");
    const first = await postWhole(`${ns}/app`, randomBlob(1000));
    assert.equal(first.status, 201);
    assert.equal(first.headers.get("berth-quota-warning"), null, "10% is below the 50% warning");
    const second = await postWhole(`${ns}/app`, randomBlob(5000));
    assert.equal(second.status, 201);
    assert.match(second.headers.get("berth-quota-warning") ?? "", /namespace q-\w+ uses 5\.86 KiB of 9\.77 KiB \(60%/);
    const { manifest } = await imageWith(`${ns}/app`, randomBlob(100));
    const put = await c.putManifest(`${ns}/app`, "v1", manifest, MT.ociManifest);
    assert.equal(put.status, 201);
    assert.match(put.headers.get("berth-quota-warning") ?? "", /namespace q-\w+ uses/);
  });

  it("GET /api/v1/usage/<namespace> counts a shared layer per repository, once for the namespace, and reports the quota", async () => {
    const ns = uniqueName("q");
    const shared = randomBlob(2000);
    const a = await imageWith(`${ns}/a`, shared);
    const bImg = await imageWith(`${ns}/b`, shared);
    assert.equal((await c.putManifest(`${ns}/a`, "v1", a.manifest, MT.ociManifest)).status, 201);
    assert.equal((await c.putManifest(`${ns}/b`, "v1", bImg.manifest, MT.ociManifest)).status, 201);
    const res = await c.get(`/api/v1/usage/${ns}`);
    assert.equal(res.status, 200, res.text());
    const report = res.json();
    const own = (img: { manifest: Buffer; config: Buffer }) => img.manifest.length + img.config.length;
    const [ra, rb] = report.repositories;
    assert.equal(ra.name, `${ns}/a`);
    assert.equal(ra.referencedBytes, 2000 + own(a));
    assert.equal(ra.freeableBytes, own(a), "the shared layer is not freed by deleting one repository");
    assert.equal(rb.referencedBytes, 2000 + own(bImg));
    assert.equal(report.total.referencedBytes, 2000 + own(a) + own(bImg), "the namespace counts it once");
    assert.equal(report.total.freeableBytes, report.total.referencedBytes);
    assert.deepEqual(report.quotas.map((q: { kind: string; scope: string; limit: number; used: number }) => [q.kind, q.scope, q.limit, q.used]), [
      ["namespace", ns, 10000, report.total.referencedBytes],
    ]);
    const repo = (await c.get(`/api/v1/usage/${ns}/a`)).json();
    assert.deepEqual(repo.repositories.map((r: { name: string }) => r.name), [`${ns}/a`]);
    assert.equal(repo.quotas[0].used, report.total.referencedBytes, "a repository reports its namespace's quota");

    const summary = (await c.get("/api/v1/usage?fresh=true")).json();
    assert.ok(summary.deduplicationSavings >= 2000, `savings ${summary.deduplicationSavings}`);
    assert.equal(summary.deduplicationSavings, summary.sumRepositoryBytes - (summary.storedBytes - summary.unreferencedBytes));
    const row = summary.namespaces.find((n: { namespace: string }) => n.namespace === ns);
    assert.equal(row.referencedBytes, report.total.referencedBytes);
    assert.equal(row.quota.limit, 10000);
    assertError(await c.get(`/api/v1/usage/${ns}-none`), 404, "NAME_UNKNOWN");
  });
});
