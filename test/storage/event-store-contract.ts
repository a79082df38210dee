import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { digestOf, type Digest } from "../../src/oci/digest.js";
import type { EventRecord, StoredEvent } from "../../src/storage/event-store.js";
import type { ManifestRecord, MetadataStore } from "../../src/storage/metadata-store.js";
import { addBlob } from "../helpers/store.js";
import { useContractStore } from "./contract-store.js";

/** The outbox and webhook-delivery half of the MetadataStore contract (event-store.ts), for every driver. */
export function describeEventStoreContract(
  driver: string,
  create: () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>,
): void {
  describe(`EventStore contract: ${driver}`, () => {
    const store = useContractStore(create);

    const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
    const event = (type: string, repository?: string, fields: Partial<EventRecord> = {}): EventRecord => ({
      id: randomUUID(),
      type,
      time: Date.now(),
      ...(repository !== undefined ? { repository } : {}),
      ...fields,
    });
    const stored = async (e: EventRecord) => (await store.getEvent(e.id)) !== undefined;
    const manifest = (blobs: Digest[] = []): ManifestRecord => {
      const content = Buffer.from(JSON.stringify({ schemaVersion: 2, n: randomUUID(), blobs }));
      return { digest: digestOf(content), mediaType: "application/vnd.oci.image.manifest.v1+json", content, blobs, children: [] };
    };
    /** A new endpoint whose cursor starts now, then `events` appended and fanned out to it (all accepted). */
    const endpointWith = async (events: EventRecord[]) => {
      const endpoint = unique("hook");
      assert.equal(await store.fanOutEvents(endpoint, () => true, 1000), 0);
      await store.appendEvents(events);
      assert.equal(await store.fanOutEvents(endpoint, () => true, 1000), events.length);
      return endpoint;
    };
    const ids = (list: { event: StoredEvent }[]) => list.map((d) => d.event.id);
    const HOUR = 3_600_000;

    it("appends events, lists them by seq and finds one by id, all fields intact", async () => {
      const repo = unique("ev/app");
      const full = event("manifest.pushed", repo, {
        target: { digest: digestOf("m"), mediaType: "application/vnd.oci.image.manifest.v1+json", size: 12, tags: ["v1", "latest"] },
        actor: "alice",
        request: { id: "req-1", addr: "127.0.0.1", host: "registry.test", method: "PUT", useragent: "docker/27" },
        result: "ok",
        detail: { previous: null, nested: { n: 1 } },
      });
      const global = event("gc.completed", undefined, { actor: "schedule", detail: { blobs: 3 } });
      const later = event("tag.deleted", repo, { time: 9_000_000_000_000, target: { tag: "v1" } });
      await store.appendEvents([full, global, later]);
      const first = await store.getEvent(full.id);
      assert.ok(first);
      assert.deepEqual(first, { ...full, seq: first.seq });
      const listed = await store.listEvents({ afterSeq: first.seq - 1, limit: 3 });
      assert.deepEqual(listed.map((e) => e.id), [full.id, global.id, later.id]);
      assert.ok(listed[0]!.seq < listed[1]!.seq && listed[1]!.seq < listed[2]!.seq, "seq ascending");
      assert.deepEqual(listed[1], { ...global, seq: listed[1]!.seq }, "no repository key for a registry-wide event");
      assert.deepEqual((await store.listEvents({ afterSeq: first.seq, limit: 1 })).map((e) => e.id), [global.id]);
      assert.deepEqual((await store.listEvents({ since: 9_000_000_000_000, limit: 10 })).map((e) => e.id), [later.id]);
      assert.equal(await store.getEvent(randomUUID()), undefined);

      await store.appendEvents([full]);
      assert.deepEqual((await store.listEvents({ afterSeq: first.seq - 1, limit: 10 })).map((e) => e.id), [full.id, global.id, later.id], "re-append skipped");
      await store.appendEvents([]);
    });

    it("records a change's events in the change's transaction, and only when it happened", async () => {
      const repo = unique("tx/app");
      const layer = digestOf(randomUUID());
      const m = manifest([layer]);

      const refused = event("manifest.pushed", repo);
      assert.deepEqual(await store.putManifest(repo, m, ["v1"], { events: [refused] }), { ok: false, missingBlob: layer });
      assert.equal(await stored(refused), false, "a push refused for a missing blob records nothing");
      const unlinkable = event("blob.mounted", repo);
      assert.equal(await store.linkBlob(repo, layer, [unlinkable]), undefined);
      assert.equal(await stored(unlinkable), false, "no such blob");

      await addBlob(store, repo, layer, 5);
      const mounted = event("blob.mounted", repo);
      assert.equal(await store.linkBlob(repo, layer, [mounted]), 5);
      assert.equal(await stored(mounted), true);
      const pushed = [event("manifest.pushed", repo), event("tag.moved", repo)];
      assert.deepEqual(await store.putManifest(repo, m, ["v1"], { immutableTags: ["v1"], events: pushed }), { ok: true, created: true });
      assert.deepEqual(await Promise.all(pushed.map(stored)), [true, true]);
      const moved = event("tag.moved", repo);
      const other = manifest([layer]);
      assert.deepEqual(await store.putManifest(repo, other, ["v1"], { immutableTags: ["v1"], events: [moved] }), { ok: false, immutableTag: "v1" });
      assert.equal(await stored(moved), false, "refused by an immutable tag");
      assert.equal((await store.putManifest(repo, other, ["v2", "v3"])).ok, true);

      const cases: [string, (events: EventRecord[]) => Promise<unknown>, unknown][] = [
        ["deleteTag absent", (e) => store.deleteTag(repo, "nope", e), false],
        ["deleteTag", (e) => store.deleteTag(repo, "v3", e), true],
        ["deleteTagIf moved", (e) => store.deleteTagIf(repo, "v2", m.digest, e), false],
        ["deleteTagIf", (e) => store.deleteTagIf(repo, "v2", other.digest, e), true],
        ["deleteManifest absent", (e) => store.deleteManifest(repo, digestOf("absent"), e), false],
        ["deleteManifest", (e) => store.deleteManifest(repo, other.digest, e), true],
      ];
      for (const [label, run, expected] of cases) {
        const e = event("tag.deleted", repo);
        assert.equal(await run([e]), expected, label);
        assert.equal(await stored(e), expected, `${label}: event recorded`);
      }

      const protectedOne = event("repository.deleted", repo);
      assert.deepEqual(await store.deleteRepository(repo, { isProtected: (t) => t === "v1", events: [protectedOne] }), { ok: false, protectedTag: "v1" });
      assert.equal(await stored(protectedOne), false);
      const deleted = event("repository.deleted", repo);
      assert.equal((await store.deleteRepository(repo, { events: [deleted] })).ok, true);
      assert.equal(await stored(deleted), true);
      const missing = event("repository.deleted", repo);
      assert.deepEqual(await store.deleteRepository(repo, { events: [missing] }), { ok: false, missing: true });
      assert.equal(await stored(missing), false);
    });

    it("records unlink events only for the digests unlinked, and none when nothing was", async () => {
      const repo = unique("unlink/app");
      const [free, used] = [digestOf(randomUUID()), digestOf(randomUUID())];
      await addBlob(store, repo, free, 1);
      await addBlob(store, repo, used, 2);
      assert.equal((await store.putManifest(repo, manifest([used]), [])).ok, true);
      const perDigest = [free, used].map((digest) => event("blob.deleted", repo, { target: { digest } }));
      const summary = event("gc.completed");
      const future = Date.now() + HOUR;
      assert.deepEqual(await store.unlinkIfUnreferenced(repo, [free, used], future, [...perDigest, summary]), [free]);
      assert.deepEqual(await Promise.all([...perDigest, summary].map(stored)), [true, false, true]);
      const none = event("gc.completed");
      assert.deepEqual(await store.unlinkIfUnreferenced(repo, [free, used], future, [none]), []);
      assert.equal(await stored(none), false);
    });

    it("starts a new endpoint after the newest event, fans out once, and delivers only what accept takes", async () => {
      const repo = unique("fan/app");
      const before = event("manifest.pushed", repo);
      await store.appendEvents([before]);
      const endpoint = unique("hook");
      assert.equal(await store.fanOutEvents(endpoint, () => true, 100), 0, "history is not fanned out");
      const [wanted, ignored] = [event("manifest.pushed", repo), event("manifest.pushed", unique("elsewhere"))];
      await store.appendEvents([wanted, ignored]);
      const seen: string[] = [];
      const passed = await store.fanOutEvents(endpoint, (e) => (seen.push(e.id), e.repository === repo), 100);
      assert.equal(passed, 2);
      assert.deepEqual(seen, [wanted.id, ignored.id]);
      const deliveries = await store.listDeliveries({ endpoint, limit: 10 });
      assert.deepEqual(ids(deliveries), [wanted.id]);
      const [d] = deliveries;
      assert.equal(d!.state, "pending");
      assert.equal(d!.attempts, 0);
      assert.ok(d!.nextAttemptAt !== undefined && d!.nextAttemptAt <= Date.now());
      assert.equal(d!.event.repository, repo);
      assert.equal(await store.fanOutEvents(endpoint, () => true, 100), 0, "the cursor moved past them");

      const more = [1, 2, 3].map(() => event("manifest.pushed", repo));
      await store.appendEvents(more);
      assert.equal(await store.fanOutEvents(endpoint, () => true, 2), 2);
      assert.equal(await store.fanOutEvents(endpoint, () => true, 2), 1);
      const health = (await store.deliveryHealth()).find((h) => h.endpoint === endpoint)!;
      assert.equal(health.cursor, (await store.getEvent(more[2]!.id))!.seq);
      assert.equal(health.backlog, 4);
    });

    it("pages deliveries by event: a page holds every delivery of its last event, and its last seq as afterSeq goes on from the next", async () => {
      const [x, y] = [unique("page-a"), unique("page-b")];
      for (const endpoint of [x, y]) await store.fanOutEvents(endpoint, () => true, 10);
      const events = [1, 2, 3].map(() => event("manifest.pushed", unique("page/app")));
      await store.appendEvents(events);
      for (const endpoint of [x, y]) assert.equal(await store.fanOutEvents(endpoint, () => true, 10), 3);
      const start = (await store.getEvent(events[0]!.id))!.seq - 1;
      const rows = (list: { endpoint: string; event: StoredEvent }[]) => list.map((d) => [d.event.id, d.endpoint]);
      const first = await store.listDeliveries({ afterSeq: start, limit: 2 });
      assert.deepEqual(rows(first), [[events[0]!.id, x], [events[0]!.id, y], [events[1]!.id, x], [events[1]!.id, y]]);
      const second = await store.listDeliveries({ afterSeq: first.at(-1)!.event.seq, limit: 2 });
      assert.deepEqual(rows(second), [[events[2]!.id, x], [events[2]!.id, y]]);

      const [claimed] = await store.claimDeliveries(x, "owner", Date.now(), Date.now() + 60_000, 1);
      assert.ok(await store.recordAttempt(x, claimed!.event.seq, "owner", { at: Date.now(), delivered: true, status: 200 }));
      const pending = await store.listDeliveries({ afterSeq: start, state: "pending", limit: 1 });
      assert.deepEqual(rows(pending), [[events[0]!.id, y]]);
      assert.deepEqual(rows(await store.listDeliveries({ endpoint: x, afterSeq: start, limit: 1 })), [[events[0]!.id, x]]);
    });

    it("never fans out an event twice, however many fan-outs run at once", async () => {
      const endpoint = unique("hook");
      await store.fanOutEvents(endpoint, () => true, 10);
      const events = Array.from({ length: 30 }, (_, i) => event("manifest.pushed", `race/${i % 3}`));
      await store.appendEvents(events);
      const passed = await Promise.all(Array.from({ length: 4 }, () => store.fanOutEvents(endpoint, () => true, 7)));
      const rest = await store.fanOutEvents(endpoint, () => true, 100);
      assert.equal(passed.reduce((a, b) => a + b, 0) + rest, 30);
      const deliveries = await store.listDeliveries({ endpoint, limit: 100 });
      assert.deepEqual(ids(deliveries), events.map((e) => e.id));
    });

    it("claims in seq order, one delivery at a time per repository, registry-wide events as one more group", async () => {
      const [a, b] = [unique("claim/a"), unique("claim/b")];
      const events = [event("x", a), event("x", b), event("x", a), event("gc.completed"), event("x", b), event("gc.completed")];
      const endpoint = await endpointWith(events);
      const now = Date.now() + 1;
      const first = await store.claimDeliveries(endpoint, "n1", now, now + HOUR, 10);
      assert.deepEqual(ids(first), [events[0]!.id, events[1]!.id, events[3]!.id]);
      assert.deepEqual(first.map((c) => [c.endpoint, c.attempts]), [[endpoint, 0], [endpoint, 0], [endpoint, 0]]);
      assert.deepEqual(await store.claimDeliveries(endpoint, "n2", now, now + HOUR, 10), [], "leased or waiting behind a lease");
      assert.equal(await store.recordAttempt(endpoint, first[0]!.event.seq, "n1", { at: now, delivered: true, status: 200 }), true);
      assert.deepEqual(ids(await store.claimDeliveries(endpoint, "n2", now, now + HOUR, 10)), [events[2]!.id]);
      assert.equal(await store.recordAttempt(endpoint, first[2]!.event.seq, "n1", { at: now, delivered: true, status: 204 }), true);
      assert.deepEqual(ids(await store.claimDeliveries(endpoint, "n2", now, now + HOUR, 1)), [events[5]!.id]);
    });

    it("leases disjoint sets to claims running at once", async () => {
      const events = Array.from({ length: 24 }, (_, i) => event("x", `disjoint/${i}`));
      const endpoint = await endpointWith(events);
      const now = Date.now() + 1;
      const claims = await Promise.all(["n1", "n2", "n3"].map((owner) => store.claimDeliveries(endpoint, owner, now, now + HOUR, 10)));
      const all = claims.flatMap(ids);
      assert.equal(new Set(all).size, all.length, "no delivery leased twice");
      assert.equal(all.length, 24);
    });

    it("lets another owner take over a lease that ran out; the first owner's attempt then changes nothing", async () => {
      const e = event("x", unique("lease"));
      const endpoint = await endpointWith([e]);
      const now = Date.now() + 1;
      const [mine] = await store.claimDeliveries(endpoint, "n1", now, now + 1000, 10);
      assert.ok(mine);
      assert.deepEqual(await store.claimDeliveries(endpoint, "n2", now + 999, now + 2000, 10), [], "still leased");
      assert.deepEqual(ids(await store.claimDeliveries(endpoint, "n2", now + 1000, now + 5000, 10)), [e.id]);
      assert.equal(await store.recordAttempt(endpoint, mine.event.seq, "n1", { at: now + 1500, delivered: true, status: 200 }), false);
      let [view] = await store.listDeliveries({ endpoint, limit: 10 });
      assert.deepEqual([view!.state, view!.attempts], ["pending", 0]);
      assert.equal(await store.recordAttempt(endpoint, mine.event.seq, "n2", { at: now + 1600, delivered: true, status: 202 }), true);
      [view] = await store.listDeliveries({ endpoint, limit: 10 });
      assert.deepEqual(
        { state: view!.state, attempts: view!.attempts, lastStatus: view!.lastStatus, deliveredAt: view!.deliveredAt, lastAttemptAt: view!.lastAttemptAt },
        { state: "delivered", attempts: 1, lastStatus: 202, deliveredAt: now + 1600, lastAttemptAt: now + 1600 },
      );
      assert.equal(view!.nextAttemptAt, undefined);
      assert.equal(await store.recordAttempt(endpoint, mine.event.seq, "n2", { at: now + 1700, delivered: true, status: 200 }), false, "done already");
    });

    it("retries at retryAt, holding back the repository's later events until then", async () => {
      const repo = unique("retry");
      const [e1, e2] = [event("x", repo), event("x", repo)];
      const endpoint = await endpointWith([e1, e2]);
      const now = Date.now() + 1;
      const [c] = await store.claimDeliveries(endpoint, "n1", now, now + HOUR, 10);
      const failure = { at: now, delivered: false, status: 503, error: "503 Service Unavailable", retryAt: now + 10_000 } as const;
      assert.equal(await store.recordAttempt(endpoint, c!.event.seq, "n1", failure), true);
      assert.deepEqual(await store.claimDeliveries(endpoint, "n1", now + 9_999, now + HOUR, 10), [], "not due, and e2 waits behind it");
      const [view] = await store.listDeliveries({ endpoint, state: "pending", limit: 1 });
      assert.deepEqual(
        { attempts: view!.attempts, nextAttemptAt: view!.nextAttemptAt, lastStatus: view!.lastStatus, lastError: view!.lastError },
        { attempts: 1, nextAttemptAt: now + 10_000, lastStatus: 503, lastError: "503 Service Unavailable" },
      );
      const again = await store.claimDeliveries(endpoint, "n2", now + 10_000, now + HOUR, 10);
      assert.deepEqual(again.map((d) => [d.event.id, d.attempts]), [[e1.id, 1]]);
    });

    it("parks a delivery as failed without blocking later events, and replays deliveries as new", async () => {
      const repo = unique("park");
      const [e1, e2, e3] = [event("x", repo), event("x", repo), event("x", repo)];
      const endpoint = unique("hook");
      await store.fanOutEvents(endpoint, () => true, 10);
      await store.appendEvents([e1, e2, e3]);
      await store.fanOutEvents(endpoint, (e) => e.id !== e3.id, 10);
      const now = Date.now() + 1;
      const [c1] = await store.claimDeliveries(endpoint, "n1", now, now + HOUR, 10);
      assert.equal(await store.recordAttempt(endpoint, c1!.event.seq, "n1", { at: now, delivered: false, error: "connection refused" }), true);
      const [c2] = await store.claimDeliveries(endpoint, "n1", now, now + HOUR, 10);
      assert.equal(c2!.event.id, e2.id, "a parked delivery does not hold its repository back");
      assert.equal(await store.recordAttempt(endpoint, c2!.event.seq, "n1", { at: now + 1, delivered: true, status: 200 }), true);
      const failed = await store.listDeliveries({ endpoint, state: "failed", limit: 10 });
      assert.deepEqual(ids(failed), [e1.id]);
      assert.equal(failed[0]!.lastError, "connection refused");
      assert.equal(failed[0]!.nextAttemptAt, undefined);

      const events = await Promise.all([e1, e2, e3].map(async (e) => (await store.getEvent(e.id))!));
      assert.equal(await store.replayDeliveries(endpoint, events, now + 5), 3, "two reset, one created");
      const replayed = await store.listDeliveries({ endpoint, limit: 10 });
      assert.deepEqual(
        replayed.map((d) => [d.event.id, d.state, d.attempts, d.nextAttemptAt, d.lastError, d.deliveredAt]),
        [e1, e2, e3].map((e) => [e.id, "pending", 0, now + 5, undefined, undefined]),
      );
      assert.deepEqual(ids(await store.claimDeliveries(endpoint, "n1", now + 5, now + HOUR, 10)), [e1.id], "replays keep repository order");
      assert.equal(await store.recordAttempt(endpoint, c1!.event.seq, "n1", { at: now + 6, delivered: true, status: 200 }), true);
    });

    it("reports each endpoint's backlog, failures, deliveries, last outcomes and cursor", async () => {
      const repo = unique("health");
      const events = [event("x", `${repo}/a`), event("x", `${repo}/b`), event("x", `${repo}/c`)];
      const endpoint = await endpointWith(events);
      const now = Date.now() + 1;
      const claimed = await store.claimDeliveries(endpoint, "n1", now, now + HOUR, 2);
      await store.recordAttempt(endpoint, claimed[0]!.event.seq, "n1", { at: now + 10, delivered: true, status: 200 });
      await store.recordAttempt(endpoint, claimed[1]!.event.seq, "n1", { at: now + 20, delivered: false, status: 500, error: "500 from receiver" });
      const health = await store.deliveryHealth();
      assert.deepEqual(health.find((h) => h.endpoint === endpoint), {
        endpoint,
        backlog: 1,
        failed: 1,
        delivered: 1,
        lastSuccessAt: now + 10,
        lastFailureAt: now + 20,
        lastError: "500 from receiver",
        cursor: (await store.getEvent(events[2]!.id))!.seq,
      });
      const names = health.map((h) => h.endpoint);
      assert.deepEqual(names, [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    });

    it("prunes old events no pending delivery needs, with their finished deliveries", async () => {
      const repo = unique("prune");
      const old = (t: number) => event("x", repo, { time: 1000 + t });
      const [unsent, delivered, parked, pending] = [old(1), old(2), old(3), old(4)];
      const fresh = event("x", repo);
      const endpoint = unique("hook");
      await store.fanOutEvents(endpoint, () => true, 10);
      await store.appendEvents([unsent, delivered, parked, pending, fresh]);
      await store.fanOutEvents(endpoint, (e) => e.id !== unsent.id, 10);
      const now = Date.now() + 1;
      const [c1] = await store.claimDeliveries(endpoint, "n1", now, now + HOUR, 10);
      await store.recordAttempt(endpoint, c1!.event.seq, "n1", { at: now, delivered: true, status: 200 });
      const [c2] = await store.claimDeliveries(endpoint, "n1", now, now + HOUR, 10);
      await store.recordAttempt(endpoint, c2!.event.seq, "n1", { at: now, delivered: false, error: "gone" });

      assert.equal(await store.pruneEvents(2000), 3);
      assert.deepEqual(await Promise.all([unsent, delivered, parked, pending, fresh].map(stored)), [false, false, false, true, true]);
      assert.deepEqual(ids(await store.listDeliveries({ endpoint, limit: 10 })), [pending.id, fresh.id]);
      assert.equal(await store.pruneEvents(2000), 0);
      const [c3] = await store.claimDeliveries(endpoint, "n1", now, now + HOUR, 10);
      assert.equal(c3!.event.id, pending.id);
      await store.recordAttempt(endpoint, c3!.event.seq, "n1", { at: now, delivered: true, status: 200 });
      assert.equal(await store.pruneEvents(2000), 1);
      assert.equal(await stored(pending), false);
    });
  });
}
