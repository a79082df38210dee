import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { createWebhookOps } from "../../src/notify/ops.js";
import type { WebhookEndpoint } from "../../src/notify/endpoints.js";
import type { EventRecord } from "../../src/storage/event-store.js";
import type { MetadataStore } from "../../src/storage/metadata-store.js";
import { captureLogger, dispatcherFor, endpoint, pushed, SECRET, testClock } from "./dispatcher-support.js";
import { startReceiver, type Receiver } from "./receiver.js";

type Create = () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>;

/** The event ids of a receiver's requests, in arrival order (distribution format: the envelope's first event). */
const idsOf = (r: Receiver) => r.received.map((x) => x.headers["webhook-id"]);

/**
 * The dispatcher against a real metadata store and real receivers on loopback: delivery,
 * signatures, retries with the same id, timeouts that hold up nothing else, per-repository order,
 * parking, replay, and two nodes sharing the work.
 */
export function describeDispatcher(driver: string, create: Create): void {
  describe(`webhook dispatcher: ${driver}`, () => {
    let store: MetadataStore;
    let cleanup: () => Promise<void>;
    const closers: (() => Promise<void>)[] = [];
    const receiver = async (...args: Parameters<typeof startReceiver>) => {
      const r = await startReceiver(...args);
      closers.push(() => r.close());
      return r;
    };
    /** Endpoints whose cursors start now, so the events appended next reach them (a new endpoint starts after the newest event). */
    const ready = async (...endpoints: WebhookEndpoint[]) => {
      for (const e of endpoints) await store.fanOutEvents(e.name, () => false, 1000);
      return endpoints;
    };
    const run = (endpoints: WebhookEndpoint[], options: Parameters<typeof dispatcherFor>[2]) => {
      const d = dispatcherFor(store, endpoints, options);
      d.start();
      closers.push(() => d.stop());
      return d;
    };
    const append = async (events: EventRecord[]) => store.appendEvents(events);
    const health = async (name = "deploy") => (await store.deliveryHealth()).find((h) => h.endpoint === name)!;

    beforeEach(async () => {
      ({ store, cleanup } = await create());
    });
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
      await store.close();
      await cleanup();
    });

    it("delivers a push at once on nudge, signed, in registry:2's envelope, and says so in health and the log", async () => {
      const r = await receiver();
      const log = captureLogger();
      const clock = testClock();
      const eps = await ready(endpoint("deploy", r.url));
      const d = run(eps, { clock: clock.now, logger: log.logger });
      const e = pushed("team/app");
      await append([e]);
      d.nudge();
      await r.until((x) => x.length === 1);
      const [req] = r.received;
      assert.equal(req!.headers["content-type"], "application/vnd.docker.distribution.events.v1+json");
      assert.equal(req!.headers.authorization, "Bearer header-value-never-logged");
      const body = new Webhook(SECRET).verify(req!.body, req!.headers as Record<string, string>) as { events: { id: string; action: string; target: { repository: string; tag: string; url: string } }[] };
      assert.equal(req!.headers["webhook-id"], e.id);
      assert.deepEqual(
        body.events.map((x) => [x.id, x.action, x.target.repository, x.target.tag, x.target.url]),
        [[e.id, "push", "team/app", "v1", `http://registry.test:5000/v2/team/app/manifests/${e.target!.digest}`]],
      );
      await waitFor(async () => (await health()).delivered === 1);
      const h = await health();
      assert.equal(h!.backlog, 0);
      assert.ok(h!.lastSuccessAt !== undefined);
      assert.deepEqual(d.attempts.map((a) => [a.endpoint, a.eventId, a.outcome]), [["deploy", e.id, "delivered"]]);
      const line = log.lines.find((l) => l.msg === "webhook delivery");
      assert.deepEqual([line?.endpoint, line?.event, line?.outcome, line?.status], ["deploy", e.id, "delivered", 200]);
      assert.ok(!log.text().includes("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") && !log.text().includes("header-value-never-logged"), "no secret or header value logged");
    });

    it("lets a configured User-Agent replace Berth's, and no configured header replace or add to content-type or the webhook-* headers", async () => {
      const signed = await receiver();
      const unsigned = await receiver();
      // Built directly, past the configuration's check that refuses Berth's own header names.
      const forged = { "Content-Type": "text/plain", "Webhook-Id": "forged", "WEBHOOK-TIMESTAMP": "1", "webhook-signature": "v1,forged" };
      const eps = await ready(
        endpoint("signed", signed.url, { headers: { "User-Agent": "ci-hook/1", Authorization: "Bearer x", ...forged } }),
        endpoint("unsigned", unsigned.url, { secret: undefined, headers: forged }),
      );
      const d = run(eps, { clock: testClock().now, logger: captureLogger().logger });
      const e = pushed("team/app");
      await append([e]);
      d.nudge();
      await signed.until((x) => x.length === 1);
      await unsigned.until((x) => x.length === 1);
      const [a] = signed.received;
      assert.deepEqual(
        [a!.headers["user-agent"], a!.headers.authorization, a!.headers["content-type"], a!.headers["webhook-id"]],
        ["ci-hook/1", "Bearer x", "application/vnd.docker.distribution.events.v1+json", e.id],
      );
      new Webhook(SECRET).verify(a!.body, a!.headers as Record<string, string>);
      const [b] = unsigned.received;
      assert.deepEqual(
        [b!.headers["user-agent"], b!.headers["content-type"], b!.headers["webhook-id"], b!.headers["webhook-signature"]],
        ["Berth-Webhooks", "application/vnd.docker.distribution.events.v1+json", e.id, undefined],
      );
      assert.match(String(b!.headers["webhook-timestamp"]), /^\d{10}$/);
    });

    it("retries a receiver that fails (500, then 200) with the same webhook-id and body, after a backoff", async () => {
      const r = await receiver((n) => ({ status: n === 0 ? 500 : 200 }));
      const clock = testClock();
      const log = captureLogger();
      const d = run(await ready(endpoint("deploy", r.url)), { clock: clock.now, logger: log.logger });
      const e = pushed("team/app");
      await append([e]);
      d.nudge();
      await r.until((x) => x.length === 1);
      await waitFor(() => d.attempts.length === 1);
      assert.equal(d.attempts[0]!.outcome, "retry");
      const [pending] = await store.listDeliveries({ endpoint: "deploy", limit: 10 });
      assert.deepEqual([pending!.state, pending!.attempts, pending!.lastStatus, pending!.lastError], ["pending", 1, 500, "HTTP 500"]);
      assert.ok(pending!.nextAttemptAt! >= clock.now() + 500, "not retried at once");
      await delay(300);
      assert.equal(r.received.length, 1, "nothing sent before the retry is due");
      clock.advance(1500);
      await r.until((x) => x.length === 2);
      assert.deepEqual(idsOf(r), [e.id, e.id]);
      assert.equal(r.received[1]!.body, r.received[0]!.body);
      await waitFor(() => d.attempts.length === 2);
      assert.equal(d.attempts[1]!.outcome, "delivered");
      assert.equal(log.lines.filter((l) => l.msg === "webhook delivery").length, 2, "every attempt logged");
    });

    it("times out a hanging receiver without holding up another endpoint or another repository", async () => {
      const hung = await receiver((_n, body) => (body.includes('"team/slow"') ? "hang" : { status: 200 }));
      const other = await receiver();
      const clock = testClock();
      const eps = await ready(endpoint("hung", hung.url, { timeout: 1500 }), endpoint("other", other.url));
      const d = run(eps, { clock: clock.now, logger: captureLogger().logger });
      const slow = pushed("team/slow");
      const fast = pushed("team/fast");
      await append([slow, fast]);
      d.nudge();
      await other.until((x) => x.length === 2, 5000, "both events at the healthy endpoint");
      await hung.until((x) => x.length === 2, 5000, "both events at the hanging endpoint");
      const slowRequest = hung.received.find((x) => x.headers["webhook-id"] === slow.id)!;
      assert.equal(slowRequest.answered || slowRequest.abandoned, false, "the hanging request is still open while the rest went through");
      assert.ok(hung.received.find((x) => x.headers["webhook-id"] === fast.id)!.answered, "the same endpoint's other repository went through");
      await waitFor(() => slowRequest.abandoned, 5000);
      await waitFor(async () => (await store.listDeliveries({ endpoint: "hung", limit: 10 })).some((x) => x.lastError !== undefined));
      const [timedOut] = (await store.listDeliveries({ endpoint: "hung", limit: 10 })).filter((x) => x.event.id === slow.id);
      assert.deepEqual([timedOut!.state, timedOut!.lastError], ["pending", "no answer within 1500ms"]);
    });

    it("fills a slot as soon as it frees: one hanging request holds up none of the endpoint's other repositories", async () => {
      const r = await receiver((_n, body) => (body.includes('"team/slow"') ? "hang" : { status: 200 }));
      const d = run(await ready(endpoint("deploy", r.url, { timeout: 20_000 })), { clock: testClock().now, logger: captureLogger().logger });
      const slow = pushed("team/slow");
      const others = Array.from({ length: 8 }, (_, i) => pushed(`team/r${i}`));
      await append([slow, ...others]);
      d.nudge();
      await r.until((x) => x.length === 9, 5000, "all nine events while the first request hangs (4 slots)");
      assert.equal(r.received.find((x) => x.headers["webhook-id"] === slow.id)!.abandoned, false, "the hanging request is still open");
      await waitFor(() => d.attempts.length === 8);
    });

    it("stop() waits for every recording in flight, even after another delivery's recording failed", async () => {
      const r = await receiver();
      const [a, b] = [pushed("team/a"), pushed("team/b")];
      let failedA = false;
      let recordingB = false;
      let recordedB = false;
      // The real store, but the recording of a fails at once and that of b takes a while.
      const faulty = overriding(store, {
        async recordAttempt(...args) {
          if (args[1] === (await store.getEvent(a.id))!.seq) {
            failedA = true;
            throw new Error("connection lost");
          }
          recordingB = true;
          await delay(500);
          const kept = await store.recordAttempt(...args);
          recordedB = true;
          return kept;
        },
      });
      const eps = await ready(endpoint("deploy", r.url));
      const d = dispatcherFor(faulty, eps, { clock: testClock().now, logger: captureLogger().logger });
      d.start();
      await append([a, b]);
      d.nudge();
      await r.until((x) => x.length === 2);
      await waitFor(() => failedA && recordingB);
      await d.stop();
      assert.equal(recordedB, true, "stop resolved only after b's outcome was recorded");
      const states = (await store.listDeliveries({ endpoint: "deploy", limit: 10 })).map((x) => [x.event.id, x.state]);
      assert.deepEqual(states, [[a.id, "pending"], [b.id, "delivered"]]);
    });

    it("fans out at most every 200 ms per endpoint however often it is nudged (on PostgreSQL each takes the event lock), and still delivers every push", async () => {
      const r = await receiver();
      let fanOuts = 0;
      const counting = overriding(store, { fanOutEvents: (...args) => (fanOuts++, store.fanOutEvents(...args)) });
      const eps = await ready(endpoint("deploy", r.url));
      const d = dispatcherFor(counting, eps, { clock: testClock().now, logger: captureLogger().logger });
      const started = performance.now();
      d.start();
      closers.push(() => d.stop());
      const events = Array.from({ length: 40 }, (_, i) => pushed(`team/app${i % 5}`, `t${i}`));
      for (const e of events) {
        await append([e]);
        d.nudge();
        await delay(20);
      }
      await r.until((x) => x.length === events.length, 10_000);
      const elapsed = performance.now() - started;
      assert.ok(fanOuts <= Math.floor(elapsed / 200) + 2, `${fanOuts} fan-outs in ${Math.round(elapsed)} ms`);
      assert.deepEqual(new Set(idsOf(r)), new Set(events.map((e) => e.id)));
    });

    it("delivers to a slow receiver that answers within the timeout", async () => {
      const r = await receiver(() => ({ status: 204, delayMs: 400 }));
      const d = run(await ready(endpoint("slow", r.url, { timeout: 3000 })), { clock: testClock().now, logger: captureLogger().logger });
      await append([pushed("team/app")]);
      d.nudge();
      await waitFor(() => d.attempts.length === 1, 5000);
      assert.equal(d.attempts[0]!.outcome, "delivered");
      assert.equal(d.attempts[0]!.status, 204);
    });

    it("keeps each repository's order: a later event waits while an earlier one of its repository is retried", async () => {
      const a1 = pushed("team/a", "1");
      const a2 = pushed("team/a", "2");
      const b1 = pushed("team/b", "1");
      let failedA1 = false;
      const r = await receiver((_n, body) => (body.includes(a1.id) && !failedA1 ? ((failedA1 = true), { status: 503 }) : { status: 200 }));
      const clock = testClock();
      const d = run(await ready(endpoint("deploy", r.url)), { clock: clock.now, logger: captureLogger().logger });
      await append([a1, a2, b1]);
      d.nudge();
      await r.until((x) => x.length === 2, 5000);
      await delay(300);
      assert.deepEqual(new Set(idsOf(r)), new Set([a1.id, b1.id]), "a2 waits for a1");
      clock.advance(2000);
      await r.until((x) => x.length === 4, 5000);
      assert.deepEqual(idsOf(r).filter((id) => id === a1.id || id === a2.id), [a1.id, a1.id, a2.id]);
    });

    it("parks a delivery after its retry window, lists it as failed, and replay sends it again with the same id", async () => {
      let up = false;
      const r = await receiver(() => ({ status: up ? 200 : 500 }));
      const clock = testClock();
      const log = captureLogger();
      const eps = await ready(endpoint("deploy", r.url, { retryFor: 2000 }));
      const d = run(eps, { clock: clock.now, logger: log.logger });
      const e = pushed("team/app");
      await append([e]);
      d.nudge();
      await r.until((x) => x.length === 1);
      await waitFor(() => d.attempts.length === 1);
      clock.advance(2500);
      await waitFor(() => d.attempts.some((a) => a.outcome === "failed"), 5000);
      const ops = createWebhookOps({ store, endpoints: eps, clock: clock.now });
      const failed = await ops.list({ endpoint: "deploy", failed: true, limit: 10 });
      assert.deepEqual(failed.map((f) => [f.event.id, f.state, f.attempts]), [[e.id, "failed", 2]]);
      assert.equal((await health()).failed, 1);
      assert.ok(log.lines.some((l) => l.level === "warn" && l.event === e.id && l.outcome === "failed"));
      clock.advance(60_000);
      await delay(200);
      assert.equal(r.received.length, 2, "a parked delivery is not retried");

      await assert.rejects(ops.replay({ endpoint: "deploy" }), /exactly one of since/);
      await assert.rejects(ops.replay({ endpoint: "deplyo", from: e.id }), /no webhook endpoint is named deplyo; configured: deploy/);
      assert.deepEqual(await ops.replay({ endpoint: "deploy", from: e.id }), { endpoint: "deploy", events: 1, replayed: 1 });
      d.nudge();
      await r.until((x) => x.length === 3, 5000);
      // The replay opened a whole retry window again: failing once more, it is retried, not parked.
      await waitFor(() => d.attempts.length === 3, 5000);
      assert.equal(d.attempts.at(-1)!.outcome, "retry");
      up = true;
      clock.advance(1500);
      d.nudge();
      await r.until((x) => x.length === 4, 5000);
      assert.deepEqual(idsOf(r), [e.id, e.id, e.id, e.id]);
      await waitFor(async () => (await health()).delivered === 1);
    });

    it("parks an event that cannot be rendered at its first attempt, logs why, and goes on with its repository's next event", async () => {
      const r = await receiver();
      const log = captureLogger();
      const d = run(await ready(endpoint("deploy", r.url)), { clock: testClock().now, logger: log.logger });
      // A time beyond what a Date can hold: rendering throws (no timestamp can be written for it).
      const broken = pushed("team/app", "v1", 9e15);
      const next = pushed("team/app", "v2");
      await append([broken, next]);
      d.nudge();
      await r.until((x) => x.length === 1, 5000);
      assert.deepEqual(idsOf(r), [next.id]);
      const [parked] = await store.listDeliveries({ endpoint: "deploy", state: "failed", limit: 10 });
      assert.deepEqual([parked?.event.id, parked?.attempts], [broken.id, 1]);
      assert.match(parked!.lastError!, /could not be rendered: RangeError/);
      const line = log.lines.find((l) => l.event === broken.id);
      assert.deepEqual([line?.level, line?.outcome], ["warn", "failed"]);
      assert.match(String(line?.error), /RangeError/);
    });

    it("sends only what an endpoint's actions, repositories and format take, and nothing while disabled", async () => {
      const r = await receiver();
      const off = await receiver();
      const eps = await ready(
        endpoint("team", r.url, { repositories: ["team/*"], actions: ["push", "delete"] }),
        endpoint("off", off.url, { enabled: false }),
      );
      const d = run(eps, { clock: testClock().now, logger: captureLogger().logger });
      const wanted = pushed("team/app");
      const pull: EventRecord = { ...pushed("team/app"), type: "manifest.pulled" };
      const gc: EventRecord = { id: crypto.randomUUID(), type: "gc.completed", time: Date.now(), detail: { blobs: 1 } };
      await append([pushed("other/app"), pull, gc, wanted]);
      d.nudge();
      await r.until((x) => x.length === 1);
      await delay(300);
      assert.deepEqual(idsOf(r), [wanted.id]);
      assert.equal(off.received.length, 0);
    });

    it("two nodes deliver each event once; a node stopped mid-delivery leaves it to the other once its lease runs out", async () => {
      let hang = true;
      const r = await receiver(() => (hang ? "hang" : { status: 200 }));
      const clock = testClock();
      const eps = await ready(endpoint("deploy", r.url, { timeout: 60_000 }));
      const first = run(eps, { clock: clock.now, logger: captureLogger().logger, instanceId: "node-a" });
      const e = pushed("team/app");
      await append([e]);
      first.nudge();
      await r.until((x) => x.length === 1);
      await first.stop();
      await waitFor(() => r.received[0]!.abandoned, 2000);
      hang = false;
      const second = run(eps, { clock: clock.now, logger: captureLogger().logger, instanceId: "node-b" });
      second.nudge();
      await delay(300);
      assert.equal(r.received.length, 1, "the lease of the stopped node still holds");
      clock.advance(91_000);
      await r.until((x) => x.length === 2, 5000);
      const third = run(eps, { clock: clock.now, logger: captureLogger().logger, instanceId: "node-c" });
      const many = Array.from({ length: 12 }, (_, i) => pushed(`team/app${i % 4}`, `t${i}`));
      await append(many);
      second.nudge();
      third.nudge();
      await r.until((x) => x.length === 14, 10_000);
      await delay(300);
      const counts = new Map<string, number>();
      for (const id of idsOf(r).slice(2)) counts.set(String(id), (counts.get(String(id)) ?? 0) + 1);
      assert.deepEqual([...counts.values()].filter((n) => n !== 1), [], "each event delivered once");
      assert.equal(counts.size, 12);
    });

    it("stop() aborts a request in flight at once", async () => {
      const r = await receiver(() => "hang");
      const d = run(await ready(endpoint("deploy", r.url, { timeout: 60_000 })), { clock: testClock().now, logger: captureLogger().logger });
      await append([pushed("team/app")]);
      d.nudge();
      await r.until((x) => x.length === 1);
      const started = Date.now();
      await d.stop();
      assert.ok(Date.now() - started < 5000, "stop does not wait for the receiver");
      await waitFor(() => r.received[0]!.abandoned, 2000);
      assert.equal(d.attempts.length, 0, "an aborted request is not recorded as an attempt");
    });
  });
}

/** The real store with some methods replaced (a fault injected, calls counted). */
function overriding(store: MetadataStore, methods: Partial<MetadataStore>): MetadataStore {
  return new Proxy(store, {
    get(target, key) {
      const v = (Object.hasOwn(methods, key) ? methods[key as keyof MetadataStore] : Reflect.get(target, key)) as unknown;
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await delay(25);
  }
}
