/**
 * The pull-through cache suites (test/proxy) again, with every test server on the scale-out stores:
 * blobs in a bucket of the test S3 engine (Ceph radosgw), metadata in a PostgreSQL database of its
 * own. The suites register their tests when imported.
 */
import { readdir } from "node:fs/promises";
import { describe } from "node:test";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";

const skip = skipUnlessS3() || skipUnlessPostgres();
if (skip) {
  describe("pull-through cache on s3 + postgres", { skip }, () => {});
} else {
  process.env.BERTH_TEST_BACKEND = "s3-postgres";
  const dir = new URL("../proxy/", import.meta.url);
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".test.js")).sort()) {
    await import(new URL(file, dir).href);
  }
}
