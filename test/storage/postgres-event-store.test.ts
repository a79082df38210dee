import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import pg from "pg";
import { EVENT_LOCK } from "../../src/storage/drivers/postgres-events.js";
import { createPostgresMetadataStore } from "../../src/storage/drivers/postgres-metadata-store.js";
import type { EventRecord } from "../../src/storage/event-store.js";
import type { ManifestRecord, MetadataStore } from "../../src/storage/metadata-store.js";
import { digestOf } from "../../src/oci/digest.js";
import { createTestDatabase, skipUnlessPostgres } from "../helpers/services.js";

const event = (repository: string): EventRecord => ({ id: randomUUID(), type: "manifest.pushed", time: Date.now(), repository });

/** A fresh database with a store (pool of 4), a raw client and more stores (nodes) on demand, closed and dropped afterwards. */
async function withDatabase(fn: (store: MetadataStore, raw: pg.Client, open: () => Promise<MetadataStore>) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const stores: MetadataStore[] = [];
  const open = async () => {
    const store = await createPostgresMetadataStore({ url: db.url, poolSize: 4, create: true });
    stores.push(store);
    return store;
  };
  const raw = new pg.Client({ connectionString: db.url });
  try {
    const store = await open();
    await raw.connect();
    await fn(store, raw, open);
  } finally {
    await raw.end();
    await Promise.all(stores.map((s) => s.close()));
    await db.drop();
  }
}

/**
 * Resolves once some session of this database waits for the event lock (pg_locks shows it not
 * granted), or once `finished()` says the operation that should wait went through instead.
 */
async function someoneWaitsForEventLock(raw: pg.Client, finished: () => boolean): Promise<void> {
  while (!finished()) {
    const { rows } = await raw.query(
      `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1 AND objid = $2 AND objsubid = 2
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [...EVENT_LOCK],
    );
    if (rows.length > 0) return;
    await sleep(10);
  }
}

describe("postgres EventStore horizon", { skip: skipUnlessPostgres() }, () => {
  it("does not pass over an event whose transaction commits after a larger seq committed", async () => {
    await withDatabase(async (store, raw) => {
      await store.fanOutEvents("hook", () => true, 10);
      // An event writer as the driver's are (shared lock, then insert), held open with the smaller seq.
      const slow = event("slow/app");
      await raw.query("BEGIN");
      await raw.query("SELECT pg_advisory_xact_lock_shared($1, $2)", [...EVENT_LOCK]);
      await raw.query("INSERT INTO events (id, type, time, repository, data) VALUES ($1, $2, $3, $4, '{}')", [
        slow.id,
        slow.type,
        slow.time,
        slow.repository,
      ]);
      const fast = event("fast/app");
      await store.appendEvents([fast]);

      let done = false;
      const fanning = store.fanOutEvents("hook", () => true, 10).finally(() => (done = true));
      await someoneWaitsForEventLock(raw, () => done);
      assert.equal(done, false, "fan-out waits for the open event transaction");
      await raw.query("COMMIT");
      assert.equal(await fanning, 2);
      const delivered = await store.listDeliveries({ endpoint: "hook", limit: 10 });
      assert.deepEqual(delivered.map((d) => d.event.id), [slow.id, fast.id]);
    });
  });

  it("makes a change's event wait while a fan-out reads its horizon, then commits it", async () => {
    await withDatabase(async (store, raw) => {
      await raw.query("BEGIN");
      await raw.query("SELECT pg_advisory_xact_lock($1, $2)", [...EVENT_LOCK]);
      const e = event("wait/app");
      const content = Buffer.from("{}");
      const record: ManifestRecord = { digest: digestOf(content), mediaType: "application/json", content, blobs: [], children: [] };
      let done = false;
      const pushing = store.putManifest("wait/app", record, ["v1"], { events: [e] }).finally(() => (done = true));
      await someoneWaitsForEventLock(raw, () => done);
      assert.equal(done, false, "the push waits for the lock before inserting its event");
      await raw.query("COMMIT");
      assert.deepEqual(await pushing, { ok: true, created: true });
      assert.ok(await store.getEvent(e.id));
    });
  });

  it("lets two nodes fan out at once while events are written without skipping or repeating one", async () => {
    await withDatabase(async (store, _raw, open) => {
      const other = await open();
      await store.fanOutEvents("hook", () => true, 10);
      const events = Array.from({ length: 40 }, (_, i) => event(`node/${i % 8}`));
      const appending = Promise.all(events.map((e, i) => (i % 2 ? store : other).appendEvents([e])));
      const fanning = Array.from({ length: 6 }, (_, i) => (i % 2 ? store : other).fanOutEvents("hook", () => true, 5));
      await appending;
      let passed = (await Promise.all(fanning)).reduce((a, b) => a + b, 0);
      for (let n; (n = await other.fanOutEvents("hook", () => true, 100)) > 0; ) passed += n;
      assert.equal(passed, 40, "every event passed once");
      const deliveries = await store.listDeliveries({ endpoint: "hook", limit: 100 });
      assert.equal(deliveries.length, 40);
      assert.deepEqual(new Set(deliveries.map((d) => d.event.id)), new Set(events.map((e) => e.id)));
    });
  });
});
