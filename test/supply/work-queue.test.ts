import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createWorkQueue } from "../../src/supply/sbom/work-queue.js";

describe("background work queue", () => {
  it("runs one job per key at a time and, on drop, forgets the queued ones while the running one finishes", async () => {
    const ran: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = createWorkQueue(async (key) => {
      ran.push(key);
      if (key === "a") await gate;
    }, 1);
    assert.equal(queue.add("a"), true);
    assert.equal(queue.add("a"), false);
    queue.add("b");
    queue.add("c");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(ran, ["a"]);
    assert.equal(queue.drop(), 2);
    assert.equal(queue.has("b"), false);
    const settled = queue.settled();
    release();
    await settled;
    assert.deepEqual(ran, ["a"]);
    assert.equal(queue.size, 0);
  });
});
