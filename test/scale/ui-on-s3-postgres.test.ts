/**
 * The web UI's browser suite (test/ui) again, with every test server on the scale-out stores:
 * blobs in a bucket of the test S3 engine (Ceph radosgw), metadata in a PostgreSQL database of its
 * own. Every page, the hostile content and the layout checks run against both storage setups.
 * The suites register their tests when imported.
 */
import { readdir } from "node:fs/promises";
import { describe } from "node:test";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";

const skip = skipUnlessS3() || skipUnlessPostgres();
if (skip) {
  describe("web UI on s3 + postgres", { skip }, () => {});
} else {
  process.env.BERTH_TEST_BACKEND = "s3-postgres";
  const dir = new URL("../ui/", import.meta.url);
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".test.js")).sort()) {
    await import(new URL(file, dir).href);
  }
}
