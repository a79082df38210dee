import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createEventLog, type DomainEvent } from "../../src/registry/events.js";
import { reportRuns } from "../../src/registry/run-events.js";
import type { EventRecord, EventStore } from "../../src/storage/event-store.js";

/** Only appendEvents is reached by a run's report; the rest of the outbox is the drivers' contract suite's. */
function appendOnlyStore(appended: EventRecord[]): EventStore {
  return { appendEvents: async (events: readonly EventRecord[]) => void appended.push(...events) } as unknown as EventStore;
}

describe("run events (maintenance runs reported as domain events)", () => {
  it("reports each run's outcome, a throw as failed (rethrown), keeps only runs that changed something, and survives a listener that throws", async () => {
    const appended: EventRecord[] = [];
    const errors: string[] = [];
    const log = createEventLog({ store: appendOnlyStore(appended), onError: (what) => errors.push(what) });
    const seen: unknown[] = [];
    log.subscribe(() => {
      throw new Error("a broken listener");
    });
    const off = log.subscribe((events: readonly DomainEvent[]) => void seen.push(...events.map((e) => [e.type, e.detail?.outcome])));
    const run = reportRuns(log, "gc.completed", async ({ mode }: { mode: "ok" | "skip" | "fail"; origin?: { actor: string } } = { mode: "ok" }) => {
      if (mode === "fail") throw new Error("database gone");
      return { skipped: mode === "skip" };
    }, (r) => ({ outcome: r.skipped ? "skipped" : "completed", detail: {} }));
    assert.deepEqual(await run({ mode: "ok", origin: { actor: "cli" } }), { skipped: false });
    await run({ mode: "skip" });
    await assert.rejects(run({ mode: "fail" }), /database gone/);
    off();
    await run({ mode: "ok" });
    assert.deepEqual(seen, [["gc.completed", "completed"], ["gc.completed", "skipped"], ["gc.completed", "failed"]]);
    assert.deepEqual(appended.map((e) => e.detail?.outcome), ["completed", "failed", "completed"], "a skipped run changed nothing: not kept");
    assert.equal(errors.length, 4, "the broken listener was reported each time, never thrown");
    assert.equal(appended[1]!.detail?.error, "database gone");
    assert.equal(appended[0]!.actor, "cli", "a run's event names who started it");
  });
});
