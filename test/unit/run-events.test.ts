import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRunEvents, type RunEvent } from "../../src/registry/run-events.js";

describe("run events (maintenance runs reported to metrics)", () => {
  it("reports each run's outcome, a throw as failed (rethrown), and survives a listener that throws", async () => {
    const events = createRunEvents();
    const seen: RunEvent["outcome"][] = [];
    events.on(() => {
      throw new Error("a broken listener");
    });
    const off = events.on((e) => seen.push(e.outcome));
    const run = events.wrap(async (fail: boolean) => {
      if (fail) throw new Error("database gone");
      return { skipped: false };
    }, (r) => (r.skipped ? "skipped" : "completed"));
    assert.deepEqual(await run(false), { skipped: false });
    await assert.rejects(run(true), /database gone/);
    off();
    await run(false);
    assert.deepEqual(seen, ["completed", "failed"]);
  });
});
