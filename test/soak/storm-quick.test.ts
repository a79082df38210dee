import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createShape, QUICK } from "../../bench/load/shape.js";
import { runStorm } from "../../bench/load/storm.js";
import { startBerthTarget } from "../../bench/load/targets.js";

/**
 * The quick storm of `npm run bench:load -- --quick` against Berth alone (BERTH_STORM_SECONDS,
 * default 15): idle keep-alives and slow senders must not cost well-behaved clients anything.
 * It asserts only what a loaded 2-core machine cannot turn into a flake: no errors, every push
 * completes, nothing leaks. Latency is reported, not asserted.
 */
const SECONDS = Number(process.env.BERTH_STORM_SECONDS ?? 15);

describe("storm: 200 connections, idle, slow and well-behaved at once", () => {
  it(`well-behaved clients are unharmed and nothing leaks (embedded, ${SECONDS} s)`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const shape = createShape(QUICK.connections, SECONDS * 1000, { shutdownTimeoutMs: 3000, requestTimeoutMs: 30_000 });
    const target = await startBerthTarget(shape.shutdownTimeoutMs);
    const r = await runStorm(target, shape);
    process.stdout.write(
      `# storm: ${r.manifestGets} manifest GETs p50/p99 ${r.p50.toFixed(1)}/${r.p99.toFixed(1)} ms, pushes ${r.pushesCompleted}/${r.pushesStarted}, ` +
        `RSS ${r.rssStart >> 20}→${r.rssPeak >> 20}→${r.rssAfter >> 20} MiB, fds ${r.fdsStart}→${r.fdsAfter} (${r.slowStillOpen} slow attached), ` +
        `shutdown ${r.shutdown.ms} ms\n`,
    );
    assert.deepEqual(r.errors, {}, `well-behaved clients saw no errors (${r.errorSamples.join("; ")})`);
    assert.ok(r.manifestGets > 0 && r.blobGets > 0, "pullers got through");
    assert.ok(r.pushesStarted > 0, "pushers got going");
    assert.equal(r.pushesCompleted, r.pushesStarted, "every push completed");
    assert.equal(r.sessionsWellBehaved, 0, "no upload session left by a completed push");
    // a slow sender still attached holds a socket, and a slow body its staged upload file too
    assert.ok(
      r.fdsAfter <= r.fdsStart + 2 * r.slowStillOpen + 10,
      `open descriptors return near their start: ${r.fdsStart} → ${r.fdsAfter} with ${r.slowStillOpen} slow senders attached`,
    );
    assert.ok(r.shutdown.exited, "SIGTERM ends the server without SIGKILL");
  });
});
