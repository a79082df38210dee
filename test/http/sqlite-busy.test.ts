import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage, makeLayer } from "../helpers/fixtures.js";
import { clientOf, pushImage } from "../helpers/push.js";
import { capturingLogger } from "./limits-support.js";

/**
 * The embedded default: another process holding SQLite's write lock past the busy timeout (a
 * backup, a stuck `sqlite3` shell) makes a push answer 503 UNAVAILABLE naming the database, not
 * a 500, and the same push succeeds once the lock is gone.
 */
// test/scale/http-on-s3-postgres.test.ts runs this directory again on PostgreSQL, where there is no SQLite file.
const skip = process.env.BERTH_TEST_BACKEND === "s3-postgres" ? "the embedded SQLite store only" : false;

describe("SQLite held locked by another process", { skip }, () => {
  let b: TestBerth;
  const { logger, lines } = capturingLogger();
  const image = makeImage({ layers: [makeLayer({ "busy.txt": "locked out\n" })] });

  before(async () => {
    b = await startBerth({}, { logger });
    const client = clientOf(b.url);
    await pushImage(client, "busy/app", "v1", image).finally(() => client.close());
  });
  after(() => b.stop());

  const putTag = (tag: string) =>
    fetch(`${b.url}/v2/busy/app/manifests/${tag}`, { method: "PUT", body: new Uint8Array(image.manifest), headers: { "Content-Type": image.manifestMediaType } });

  it("PUT of a manifest answers 503 UNAVAILABLE with Retry-After while the write lock is held, 201 after", async () => {
    const holder = new Database(join(b.data, "berth.db"));
    holder.exec("BEGIN IMMEDIATE");
    let refused: Response;
    try {
      refused = await putTag("v2");
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers.get("retry-after")) > 0);
    const body = (await refused.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]?.code, "UNAVAILABLE");
    assert.match(body.errors[0]?.message ?? "", /metadata database \(SQLite\) is unavailable.*SQLITE_BUSY/);
    assert.equal(lines.filter((l) => l.level === "error").length, 0, "no error log, no stack trace");
    assert.equal(lines.filter((l) => l.msg === "store unavailable: answering 503").length, 1);

    assert.equal((await putTag("v2")).status, 201, "the retry succeeds");
    const pulled = await fetch(`${b.url}/v2/busy/app/manifests/v2`, { headers: { Accept: image.manifestMediaType } });
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), image.manifest);
  });
});
