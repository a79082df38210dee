import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";
import { runSoak, verifySoak } from "./soak-workload.js";
import { startSoakTarget, type SoakBackend } from "./soak-target.js";

/**
 * The short soak CI runs (BERTH_SOAK_SECONDS, default 20, per backend); `scripts/soak.sh` runs the
 * same workload for as long as asked.
 */
const SECONDS = Number(process.env.BERTH_SOAK_SECONDS ?? 20);
const GRACE_MS = 1000;

export async function soak(backend: SoakBackend, seconds: number, log: (line: string) => void = () => {}): Promise<void> {
  const target = await startSoakTarget(backend, GRACE_MS);
  try {
    const urls = target.nodes.map((n) => n.url);
    const { stats, kept } = await runSoak({ nodes: urls, durationMs: seconds * 1000, graceMs: GRACE_MS, log });
    log(`soak ${backend} ${seconds}s: ${JSON.stringify({ ...stats, errors: stats.errors.length, kept: kept.length })}`);
    assert.deepEqual(stats.errors, [], "nothing a client would see as a server fault");
    assert.ok(stats.pushes > 0 && stats.pulls > 0 && stats.gcRuns > 0 && stats.deletes > 0, "every kind of work happened");

    // Let the last pushes' grace period pass, then one collection with nothing else running.
    await sleep(GRACE_MS + 200);
    const res = await fetch(`${urls[0]}/api/v1/gc?deleteUntagged=true&wait=true`, { method: "POST" });
    assert.equal(res.status, 200);
    const problems = await verifySoak(urls[urls.length - 1]!, kept, () => target.storedBlobs());
    assert.deepEqual(problems, [], "every tag pulls whole, kept tags are where they were pushed, storage holds exactly what tags reach");
    assert.deepEqual(await target.stagedUploads(), [], "no staged upload data is left behind");
  } finally {
    await target.stop();
  }
}

describe("soak: concurrent pushes, pulls, tag moves, deletes and back-to-back GCs", () => {
  it(`embedded default, one node, ${SECONDS} s`, { timeout: (SECONDS + 120) * 1000 }, async () => {
    await soak("embedded", SECONDS, (l) => process.stdout.write(`# ${l}\n`));
  });

  it(
    `S3 + PostgreSQL, three nodes, ${SECONDS} s`,
    { skip: skipUnlessS3() || skipUnlessPostgres(), timeout: (SECONDS + 180) * 1000 },
    async () => {
      await soak("s3-postgres", SECONDS, (l) => process.stdout.write(`# ${l}\n`));
    },
  );
});
