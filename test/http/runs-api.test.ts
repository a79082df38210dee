import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { assertError, makeImage } from "./client.js";
import { AuthClient, basic, createUser } from "./auth-client.js";

const ADMIN = basic("admin", "admin-password");

interface Run {
  kind: string;
  time: number;
  outcome: string;
  actor?: string;
  dryRun: boolean;
  summary: Record<string, unknown>;
}

/** GET /api/v1/runs (http/handlers/runs-api.ts): the GC and retention runs, read back from the audit log. */
describe("GET /api/v1/runs: recent garbage collection and retention runs", () => {
  let dir: string;
  let b: TestBerth;
  let admin: AuthClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-runs-api-"));
    await writeFile(join(dir, "berth.yaml"), JSON.stringify({ retention: { rules: [{ name: "ci", repositories: "ci/*", keepLast: 1 }] } }));
    b = await startBerth({ BERTH_CONFIG: join(dir, "berth.yaml"), BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" });
    admin = new AuthClient(b.url, ADMIN);
    await createUser(admin, "rita", "rita-password");
  });
  after(async () => {
    await b?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const runs = async (query = "") => {
    const res = await admin.api("GET", `runs${query}`);
    assert.equal(res.status, 200, res.text());
    return res.json<{ items: Run[] }>().items;
  };

  it("lists runs that changed something, newest first, with who started them and their numbers; dry runs are not kept", async () => {
    const first = makeImage();
    await admin.pushImage("ci/app", first, "build-1");
    await new Promise((r) => setTimeout(r, 5));
    await admin.pushImage("ci/app", makeImage(), "build-2");
    assert.equal((await admin.api("POST", "retention?dryRun=true")).status, 200);
    assert.deepEqual(await runs("?kind=retention"), [], "a dry run is not recorded");

    const retention = await admin.api("POST", "retention");
    assert.equal(retention.status, 200, retention.text());
    assert.equal(retention.json<{ tagsDeleted: number }>().tagsDeleted, 1);
    assert.equal((await admin.api("POST", "gc?dryRun=true")).status, 200);
    const gc = await admin.api("POST", "gc?deleteUntagged=true");
    assert.equal(gc.status, 200, gc.text());
    const report = gc.json<{ manifestsDeleted: number; blobsDeleted: number; bytesReclaimed: number; repositories: number }>();

    const [gcRun, ...moreGc] = await runs("?kind=gc");
    assert.equal(moreGc.length, 0, "only the real collection");
    assert.equal(gcRun!.kind, "gc");
    assert.equal(gcRun!.outcome, "completed");
    assert.equal(gcRun!.actor, "admin");
    assert.equal(gcRun!.dryRun, false);
    assert.equal(typeof gcRun!.time, "number");
    assert.deepEqual(
      { m: gcRun!.summary.manifestsDeleted, b: gcRun!.summary.blobsDeleted, bytes: gcRun!.summary.bytesReclaimed, repos: gcRun!.summary.repositories },
      { m: report.manifestsDeleted, b: report.blobsDeleted, bytes: report.bytesReclaimed, repos: report.repositories },
    );
    assert.equal(typeof gcRun!.summary.durationMs, "number");

    const [retentionRun] = await runs("?kind=retention");
    assert.equal(retentionRun!.outcome, "completed");
    assert.equal(retentionRun!.summary.tagsDeleted, 1);
    assert.equal(retentionRun!.summary.tagsKept, 1);

    const both = await runs();
    assert.deepEqual(both.map((r) => r.kind), ["gc", "retention"], "newest first");
    assert.deepEqual((await runs("?limit=1")).map((r) => r.kind), ["gc"]);
  });

  it("is for administrators, and checks its parameters", async () => {
    assertError(await new AuthClient(b.url, basic("rita", "rita-password")).api("GET", "runs"), 403, "DENIED");
    assertError(await new AuthClient(b.url).api("GET", "runs"), 401, "UNAUTHORIZED");
    assertError(await admin.api("GET", "runs?kind=vacuum"), 400, "INVALID");
    assertError(await admin.api("GET", "runs?limit=0"), 400, "INVALID");
    assertError(await admin.api("GET", "runs?limit=501"), 400, "INVALID");
  });
});
