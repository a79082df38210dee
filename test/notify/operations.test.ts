import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createRegistryFromConfig } from "../../src/compose.js";
import { loadConfig } from "../../src/config/load.js";
import { createApp } from "../../src/http/app.js";
import { createOpenGuard } from "../../src/http/guard.js";
import { createMetrics } from "../../src/http/metrics.js";
import { silentLogger } from "../../src/logger.js";
import { createWebhookOps } from "../../src/notify/ops.js";
import type { Registry } from "../../src/registry/registry.js";
import { BERTH_BIN } from "../helpers/berth.js";
import { run } from "../helpers/tools.js";
import { pushed } from "./dispatcher-support.js";

/** `berth events …` and /api/v1/webhooks|events over a real registry's outbox (no server delivering). */
describe("webhook operations: berth events and /api/v1", () => {
  let dir: string;
  let configFile: string;
  let registry: Registry;
  let server: Server;
  let base: string;
  const events = [pushed("team/app", "v1", Date.parse("2026-01-01T00:00:00Z")), pushed("team/app", "v2", Date.parse("2026-01-02T00:00:00Z"))];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-events-ops-"));
    configFile = join(dir, "berth.yaml");
    await writeFile(
      configFile,
      `data: ${join(dir, "data")}\nstorage: {fsync: false}\nnotifications:\n  endpoints:\n    - {name: deploy, url: "http://127.0.0.1:9/hook?token=abc", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}\n`,
    );
    const config = loadConfig({ file: configFile, env: {} });
    registry = await createRegistryFromConfig(config, { create: true });
    const store = registry.stores.metadataStore;
    await store.fanOutEvents("deploy", () => true, 100);
    await store.appendEvents(events);
    await store.fanOutEvents("deploy", () => true, 100);
    // The first is delivered, so a replay that should not have happened would show.
    const [first] = await store.claimDeliveries("deploy", "test", Date.now(), Date.now() + 60_000, 1);
    assert.ok(await store.recordAttempt("deploy", first!.event.seq, "test", { at: Date.now(), delivered: true, status: 200 }));
    const webhooks = createWebhookOps({ store, endpoints: config.notifications.endpoints });
    const app = createApp({ registry, logger: silentLogger, guard: createOpenGuard(false), webhooks });
    server = createServer((req, res) => void app(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}) });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const berth = (...args: string[]) => run(process.execPath, [BERTH_BIN, ...args, "--config", configFile], { env: { BERTH_LOG_LEVEL: "warn" }, allowFail: true, timeoutMs: 20_000 });

  it("GET /api/v1/webhooks shows each endpoint's health, its URL's path and query masked", async () => {
    const { status, body } = await api("GET", "/api/v1/webhooks");
    assert.equal(status, 200);
    const [h] = body as Record<string, unknown>[];
    assert.deepEqual([h!.endpoint, h!.configured, h!.enabled, h!.format, h!.url, h!.backlog, h!.failed], ["deploy", true, true, "distribution", "http://127.0.0.1:9/…?…", 1, 0]);
  });

  it("GET /api/v1/events lists deliveries, filtered and paged", async () => {
    const all = (await api("GET", "/api/v1/events?endpoint=deploy")).body as Record<string, unknown>[];
    assert.deepEqual(all.map((d) => [d.id, d.state, d.subject]), events.map((e, i) => [e.id, i === 0 ? "delivered" : "pending", `team/app:${e.target!.tags![0]}`]));
    const paged = (await api("GET", `/api/v1/events?limit=1&after=${all[0]!.seq}`)).body as Record<string, unknown>[];
    assert.deepEqual(paged.map((d) => d.id), [events[1]!.id]);
    assert.deepEqual((await api("GET", "/api/v1/events?failed=true")).body, []);
    const unknown = await api("GET", "/api/v1/events?endpoint=nope");
    assert.equal(unknown.status, 404);
    assert.match(JSON.stringify(unknown.body), /NOT_FOUND.*no webhook endpoint is named nope; configured: deploy/);
    for (const query of ["limit=0", "limit=1.5", "after=-1", "after=100000000000000000000", `after=${Number.MAX_SAFE_INTEGER + 1}`, "failed=maybe"]) {
      const bad = await api("GET", `/api/v1/events?${query}`);
      assert.equal(bad.status, 400, query);
      assert.match(JSON.stringify(bad.body), /"INVALID"/, query);
    }
    assert.deepEqual((await api("GET", `/api/v1/events?after=${Number.MAX_SAFE_INTEGER}`)).body, []);
  });

  it("lists an endpoint no longer configured while the store holds its deliveries, and refuses a name it holds none of", async () => {
    const ops = createWebhookOps({ store: registry.stores.metadataStore, endpoints: [] });
    assert.deepEqual((await ops.list({ endpoint: "deploy", limit: 10 })).map((d) => d.event.id), events.map((e) => e.id));
    assert.deepEqual(await ops.list({ endpoint: "deploy", failed: true, limit: 10 }), []);
    await assert.rejects(ops.list({ endpoint: "deplyo", limit: 10 }), /no webhook endpoint is named deplyo; configured: none/);
  });

  it("POST /api/v1/events/replay takes exactly one of since and from, refuses unknown endpoints and events", async () => {
    for (const body of [{ endpoint: "deploy" }, { endpoint: "deploy", since: "2026-01-01T00:00:00Z", from: events[0]!.id }, { endpoint: "deploy", since: "yesterday" }, { endpoint: "deploy", sinse: "2026-01-01T00:00:00Z" }, null, [], "deploy"]) {
      const res = await api("POST", "/api/v1/events/replay", body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(JSON.stringify(res.body), /INVALID/);
    }
    assert.equal((await api("POST", "/api/v1/events/replay", { endpoint: "nope", from: events[0]!.id })).status, 404);
    assert.equal((await api("POST", "/api/v1/events/replay", { endpoint: "deploy", from: "no-such-event" })).status, 404);
    assert.deepEqual((await api("POST", "/api/v1/events/replay", { endpoint: "deploy", since: "2026-01-01T12:00:00Z" })).body, { endpoint: "deploy", events: 1, replayed: 1 });
    assert.equal((await api("GET", "/api/v1/events/replay")).status, 405);
  });

  it("/metrics has attempts by outcome and, from the store, backlog, failed and last success per endpoint", async () => {
    const config = loadConfig({ file: configFile, env: {} });
    const metrics = createMetrics({ registry, storageRefreshMs: 0, webhooks: createWebhookOps({ store: registry.stores.metadataStore, endpoints: config.notifications.endpoints }) });
    metrics.observeWebhookAttempt({ endpoint: "deploy", eventId: "e", type: "manifest.pushed", outcome: "retry", ms: 3 });
    metrics.observeWebhookAttempt({ endpoint: "deploy", eventId: "e", type: "manifest.pushed", outcome: "delivered", status: 200, ms: 3 });
    metrics.observeWebhookAttempt({ endpoint: "deploy", eventId: "f", type: "manifest.pushed", outcome: "delivered", status: 200, ms: 3 });
    const { body } = await metrics.render();
    assert.match(body, /^berth_webhook_deliveries_total\{endpoint="deploy",outcome="delivered"\} 2$/m);
    assert.match(body, /^berth_webhook_deliveries_total\{endpoint="deploy",outcome="retry"\} 1$/m);
    assert.match(body, /^berth_webhook_backlog\{endpoint="deploy"\} 1$/m);
    assert.match(body, /^berth_webhook_failed\{endpoint="deploy"\} 0$/m);
    const success = /^berth_webhook_last_success_timestamp_seconds\{endpoint="deploy"\} (\S+)$/m.exec(body);
    assert.ok(success && Math.abs(Number(success[1]) - Date.now() / 1000) < 600, body);
  });

  it("berth events replay refuses a missing or doubled starting point and an unknown endpoint with exit 2, replays nothing", async () => {
    const states = async () => (await registry.stores.metadataStore.listDeliveries({ endpoint: "deploy", limit: 10 })).map((d) => d.state);
    assert.deepEqual(await states(), ["delivered", "pending"]);
    const missing = await berth("events", "replay", "--endpoint", "deploy");
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /give exactly one of --since TIME and --from EVENT-ID/);
    assert.equal((await berth("events", "replay", "--endpoint", "deploy", "--since", "2026-01-01T00:00:00Z", "--from", events[0]!.id)).code, 2);
    const typo = await berth("events", "replay", "--endpoint", "deploy", "--sinc", "2026-01-01T00:00:00Z");
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown option '--sinc'/);
    const badTime = await berth("events", "replay", "--endpoint", "deploy", "--since", "last tuesday");
    assert.equal(badTime.code, 2);
    const unknown = await berth("events", "replay", "--endpoint", "nope", "--from", events[0]!.id);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no webhook endpoint is named nope/);
    assert.deepEqual(await states(), ["delivered", "pending"]);
  });

  it("berth events list and endpoints print one JSON object a line; replay from an event says what it did", async () => {
    const list = await berth("events", "list", "--endpoint", "deploy");
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { id: string }).id), events.map((e) => e.id));
    const tooFar = await berth("events", "list", "--after", "100000000000000000000");
    assert.equal(tooFar.code, 2);
    assert.match(tooFar.stderr, /expected a whole number from 1 to 9007199254740991/);
    const endpoints = await berth("events", "endpoints");
    assert.equal((JSON.parse(endpoints.stdout.trim()) as { endpoint: string }).endpoint, "deploy");
    assert.ok(!endpoints.stdout.includes("token=abc") && !endpoints.stdout.includes("/hook"), "the URL's path and query are not shown");
    assert.equal((JSON.parse(endpoints.stdout.trim()) as { url: string }).url, "http://127.0.0.1:9/…?…");
    const replay = await berth("events", "replay", "--endpoint", "deploy", "--from", events[0]!.id);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /^replayed 2 deliveries to deploy \(of 2 events looked at\)/);
    const again = (await registry.stores.metadataStore.listDeliveries({ endpoint: "deploy", limit: 10 })).map((d) => [d.state, d.attempts]);
    assert.deepEqual(again, [["pending", 0], ["pending", 0]]);
  });
});
