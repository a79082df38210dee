import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/logger.js";
import { createBerth, type Berth } from "../../src/server.js";
import { backendEnv, startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage, makeLayer } from "../helpers/fixtures.js";
import { parseExposition, scrape, value, type Family } from "../helpers/prometheus.js";
import { pullBlob, pushBlob, pushManifest, withClient } from "../helpers/push.js";
import { startUpload } from "../helpers/upload-session.js";
import { uniqueName } from "./client.js";

type Families = Map<string, Family>;
const delta = (before: Families, after: Families, name: string, labels: Record<string, string> = {}) =>
  value(after, name, labels) - value(before, name, labels);

async function pushImage(url: string, repo: string, tag: string) {
  const image = makeImage({ layers: [makeLayer({ id: randomBytes(4096).toString("hex") })] });
  await pushBlob(url, repo, image.config);
  for (const layer of image.layers) await pushBlob(url, repo, layer);
  await pushManifest(url, repo, tag, image.manifest, image.manifestMediaType);
  const blobBytes = image.config.length + image.layers.reduce((n, l) => n + l.length, 0);
  return { ...image, blobBytes };
}

/** A request body the test releases chunk by chunk; sent chunked, without Content-Length. */
function controlledBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return { stream, write: (b: Buffer) => controller.enqueue(new Uint8Array(b)), end: () => controller.close() };
}

describe("GET /metrics", () => {
  let b: TestBerth;
  before(async () => {
    b = await startBerth({ BERTH_METRICS_STORAGE_REFRESH: "0" });
  });
  after(() => b.stop());

  it("counts pushes and pulls by method, route kind and status, with bytes in and out and latency buckets", async () => {
    const repo = uniqueName("metrics");
    const start = await scrape(b.url);
    const one = await pushImage(b.url, repo, "one");
    const two = await pushImage(b.url, repo, "two");
    for (const image of [one, two]) {
      for (const digest of [image.configDigest, ...image.layerDigests]) assert.ok(await pullBlob(b.url, repo, digest));
    }
    const end = await scrape(b.url);

    assert.equal(delta(start, end, "berth_http_requests_total", { method: "PUT", route: "manifest", status: "201" }), 2);
    assert.equal(delta(start, end, "berth_http_requests_total", { method: "HEAD", route: "blob", status: "404" }), 4);
    assert.equal(delta(start, end, "berth_http_requests_total", { method: "POST", route: "blob_upload", status: "202" }), 4);
    assert.equal(delta(start, end, "berth_http_requests_total", { method: "PUT", route: "blob_upload", status: "201" }), 4);
    assert.equal(delta(start, end, "berth_http_requests_total", { method: "GET", route: "blob", status: "200" }), 4);
    const blobBytes = one.blobBytes + two.blobBytes;
    assert.ok(delta(start, end, "berth_http_received_bytes_total", { route: "blob_upload" }) >= blobBytes);
    assert.ok(delta(start, end, "berth_http_received_bytes_total", { route: "manifest" }) >= one.manifest.length + two.manifest.length);
    assert.ok(delta(start, end, "berth_http_sent_bytes_total", { route: "blob" }) >= blobBytes);

    const latency = end.get("berth_http_request_duration_seconds")!;
    assert.equal(latency.type, "histogram");
    const buckets = latency.samples.filter((s) => s.name.endsWith("_bucket") && s.labels.method === "PUT" && s.labels.route === "manifest");
    assert.ok(buckets.length >= 5, "several latency buckets");
    assert.deepEqual([...buckets].sort((x, y) => Number(x.labels.le === "+Inf" ? Infinity : x.labels.le) - Number(y.labels.le === "+Inf" ? Infinity : y.labels.le)).map((s) => s.value), buckets.map((s) => s.value), "cumulative");
    assert.equal(buckets.at(-1)!.labels.le, "+Inf");
    assert.equal(buckets.at(-1)!.value, value(end, "berth_http_request_duration_seconds_count", { method: "PUT", route: "manifest" }));
    assert.ok(value(end, "berth_http_request_duration_seconds_count", { method: "PUT", route: "manifest" }) >= 2);
    for (const family of end.values()) {
      for (const s of family.samples) {
        if ("route" in s.labels) assert.ok(!s.labels.route!.includes("/"), `route labels are kinds, never paths: ${s.labels.route}`);
      }
    }
  });

  it("shows an upload in flight while its PATCH streams, and none after", async () => {
    const repo = uniqueName("inflight");
    const location = await startUpload(b.url, repo);
    const body = controlledBody();
    const data = randomBytes(64 * 1024);
    const patch = fetch(location, { method: "PATCH", body: body.stream, duplex: "half" } as RequestInit);
    body.write(data.subarray(0, 1024));
    let during = 0;
    for (let i = 0; i < 500 && during === 0; i++) during = value(await scrape(b.url, false), "berth_http_uploads_in_flight");
    assert.equal(during, 1);
    body.write(data.subarray(1024));
    body.end();
    assert.equal((await patch).status, 202);
    assert.equal(value(await scrape(b.url), "berth_http_uploads_in_flight"), 0);
  });

  it("reports stored blobs, bytes, repositories, tags and manifests after pushes, deletes and a collection", async () => {
    const repo = uniqueName("stored");
    const start = await scrape(b.url);
    const image = await pushImage(b.url, repo, "v1");
    await pushManifest(b.url, repo, "v1", image.manifest, image.manifestMediaType);
    const pushed = await scrape(b.url);
    assert.equal(delta(start, pushed, "berth_storage_blobs"), 2);
    assert.equal(delta(start, pushed, "berth_storage_blob_bytes"), image.blobBytes);
    assert.equal(delta(start, pushed, "berth_storage_repositories"), 1);
    assert.equal(delta(start, pushed, "berth_storage_manifests"), 1);
    assert.equal(delta(start, pushed, "berth_storage_manifest_bytes"), image.manifest.length);
    assert.equal(delta(start, pushed, "berth_storage_tags"), 1);

    assert.equal((await fetch(`${b.url}/v2/${repo}/manifests/${image.manifestDigest}`, { method: "DELETE" })).status, 202);
    const deleted = await scrape(b.url);
    assert.equal(delta(start, deleted, "berth_storage_manifests"), 0);
    assert.equal(delta(start, deleted, "berth_storage_tags"), 0);
    assert.equal(delta(start, deleted, "berth_storage_blobs"), 2, "blobs stay until garbage collection");

    const report = await b.berth.registry.gc.run({ graceMs: 0 });
    assert.ok(report.blobsDeleted >= 2);
    const collected = await scrape(b.url);
    assert.ok(delta(start, collected, "berth_storage_blobs") <= 0);
    assert.ok(delta(start, collected, "berth_storage_blob_bytes") <= 0);
    assert.equal(delta(start, collected, "berth_gc_runs_total", { outcome: "completed" }), 1);
    assert.ok(delta(start, collected, "berth_gc_blobs_deleted_total") >= 2);
    assert.ok(delta(start, collected, "berth_gc_reclaimed_bytes_total") >= image.blobBytes);
    assert.equal(delta(start, collected, "berth_gc_duration_seconds_count", { outcome: "completed" }), 1);
    assert.ok(value(collected, "berth_gc_last_run_timestamp_seconds") > 0);

    await b.berth.registry.gc.run({ dryRun: true });
    await b.berth.registry.retention.run();
    const later = await scrape(b.url);
    assert.equal(delta(collected, later, "berth_gc_runs_total", { outcome: "dry_run" }), 1);
    assert.equal(delta(collected, later, "berth_retention_runs_total", { outcome: "completed" }), 1);
    assert.equal(delta(collected, later, "berth_retention_duration_seconds_count"), 1);
  });
});

describe("the access log", () => {
  let b: Berth;
  let url: string;
  let data: string;
  let cleanup: () => Promise<void>;
  const lines: Record<string, unknown>[] = [];
  before(async () => {
    data = await mkdtemp(join(tmpdir(), "berth-test-"));
    const backend = await backendEnv();
    const logger = createLogger({ level: "info", write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    b = await createBerth(loadConfig({ env: { BERTH_DATA: data, BERTH_LISTEN: "127.0.0.1:0", BERTH_FSYNC: "false", ...backend.env } }), logger);
    url = `http://127.0.0.1:${(await b.start()).port}`;
    cleanup = backend.cleanup;
  });
  after(async () => {
    await b.stop();
    await cleanup();
    await rm(data, { recursive: true, force: true });
  });

  it("logs the bytes a chunked PATCH without Content-Length actually sent as bytesIn, and counts them as received", async () => {
    const location = await startUpload(url, uniqueName("chunked"));
    const start = await scrape(url);
    const body = controlledBody();
    const patch = fetch(location, { method: "PATCH", body: body.stream, duplex: "half" } as RequestInit);
    body.write(randomBytes(3000));
    body.write(randomBytes(5000));
    body.end();
    assert.equal((await patch).status, 202);
    assert.equal(delta(start, await scrape(url), "berth_http_received_bytes_total", { route: "blob_upload" }), 8000);
    const logged = lines.filter((l) => l.msg === "request" && l.method === "PATCH");
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.bytesIn, 8000);
    assert.equal(logged[0]!.chunked, true);
  });
});

describe("GET /metrics: storage counts are cached between refreshes", () => {
  let b: TestBerth;
  before(async () => {
    b = await startBerth({ BERTH_METRICS_STORAGE_REFRESH: "1h" });
  });
  after(() => b.stop());

  it("serves the last count until the refresh interval has passed (no count per scrape)", async () => {
    const first = await scrape(b.url);
    assert.ok(first.has("berth_storage_manifests"));
    assert.ok(value(first, "berth_storage_refresh_timestamp_seconds") > 0, "the first scrape waits for a first count");
    await pushImage(b.url, uniqueName("cached"), "v1");
    const second = await scrape(b.url);
    assert.equal(delta(first, second, "berth_storage_manifests"), 0);
    assert.equal(value(second, "berth_storage_refresh_timestamp_seconds"), value(first, "berth_storage_refresh_timestamp_seconds"));
  });
});

describe("GET /metrics with access control", () => {
  let b: TestBerth;
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  before(async () => {
    b = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password", BERTH_METRICS_STORAGE_REFRESH: "0" });
  });
  after(() => b.stop());

  it("counts login successes, failures and throttled attempts at the token endpoint and with Basic on /v2/", async () => {
    const start = await scrape(b.url);
    const token = (auth: string) => fetch(`${b.url}/token?service=berth&scope=repository:x/y:pull`, { headers: { Authorization: auth } });
    assert.equal((await token(basic("admin", "admin-password"))).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await token(basic("ghost", `wrong${i}`))).status, 401);
    assert.equal((await token(basic("ghost", "wrong"))).status, 429);
    assert.equal((await fetch(`${b.url}/v2/_catalog`, { headers: { Authorization: basic("nobody", "nope") } })).status, 401);
    assert.equal((await fetch(`${b.url}/v2/_catalog`, { headers: { Authorization: basic("admin", "admin-password") } })).status, 200);
    const end = await scrape(b.url);
    assert.equal(delta(start, end, "berth_auth_logins_total", { outcome: "success", via: "token" }), 1);
    assert.equal(delta(start, end, "berth_auth_logins_total", { outcome: "failure", via: "token" }), 5);
    assert.equal(delta(start, end, "berth_auth_logins_total", { outcome: "throttled", via: "token" }), 1);
    assert.equal(delta(start, end, "berth_auth_logins_total", { outcome: "failure", via: "basic" }), 1);
    assert.equal(delta(start, end, "berth_auth_logins_total", { outcome: "success", via: "basic" }), 1);
    assert.equal(delta(start, end, "berth_http_requests_total", { method: "GET", route: "token", status: "401" }), 5);
    assert.equal(delta(start, end, "berth_http_requests_total", { method: "GET", route: "token", status: "429" }), 1);
  });

  it("every exposed metric has HELP and TYPE, parses as Prometheus text, and follows the naming conventions", async () => {
    // Traffic of every kind first, so labelled families have samples to check.
    const repo = uniqueName("conventions");
    await withClient(b.url, (c) => c.pushBlob(repo, randomBytes(100)), { username: "admin", password: "admin-password" });
    await fetch(`${b.url}/healthz`);
    await fetch(`${b.url}/nowhere`);
    await b.berth.registry.gc.run({ dryRun: true });
    const res = await fetch(`${b.url}/metrics`);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const families = parseExposition(text);
    assert.ok(families.size > 20);
    for (const family of families.values()) {
      assert.match(family.name, /^berth_[a-z][a-z0-9_]*[a-z0-9]$/, family.name);
      assert.ok(family.help.length > 0, `${family.name} has help text`);
      assert.notEqual(family.type, "untyped", family.name);
      if (family.type === "counter") assert.match(family.name, /_total$/, `counter ${family.name} ends in _total`);
      else assert.doesNotMatch(family.name, /_total$/, `${family.name}: only counters end in _total`);
      // Units are base units, at the end of the name (before _total).
      assert.doesNotMatch(family.name, /_(milliseconds|ms|kilobytes|megabytes|kb|mb)(_|$)/, family.name);
      for (const unit of ["seconds", "bytes"]) {
        if (family.name.includes(`_${unit}_`) && !family.name.endsWith(`_${unit}_total`)) assert.fail(`${family.name}: the unit ${unit} goes last`);
      }
      if (family.type === "histogram") {
        assert.ok(family.samples.every((s) => !s.name.endsWith("_bucket") || "le" in s.labels), `${family.name} buckets have le`);
      }
    }
    for (const required of [
      "berth_http_requests_total",
      "berth_http_request_duration_seconds",
      "berth_http_received_bytes_total",
      "berth_http_sent_bytes_total",
      "berth_http_uploads_in_flight",
      "berth_auth_logins_total",
      "berth_storage_blobs",
      "berth_storage_blob_bytes",
      "berth_storage_tags",
      "berth_storage_manifests",
      "berth_storage_repositories",
      "berth_gc_runs_total",
      "berth_retention_runs_total",
      "berth_process_resident_memory_bytes",
      "berth_nodejs_eventloop_lag_seconds",
      "berth_nodejs_heap_size_used_bytes",
    ]) {
      assert.ok(families.has(required), `${required} is exposed`);
    }
    // Berth's own metrics are documented by name (prom-client's process metrics by family there).
    const docs = await readFile(new URL("../../../docs/metrics.md", import.meta.url), "utf8");
    for (const name of families.keys()) {
      if (!/^berth_(process|nodejs)_/.test(name)) assert.ok(docs.includes(`\`${name}\``), `${name} is in docs/metrics.md`);
    }
    for (const route of new Set(families.get("berth_http_requests_total")!.samples.map((s) => s.labels.route))) {
      assert.ok(["base", "blob", "blob_upload", "manifest", "tags", "catalog", "referrers", "token", "api", "health", "metrics", "other"].includes(route!), route);
    }
    assert.ok(value(families, "berth_http_requests_total", { route: "other", status: "404" }) >= 1);
  });
});
