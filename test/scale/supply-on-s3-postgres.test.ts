/**
 * The supply-chain suites that run test servers (SBOM referrers, signature policies over HTTP and
 * with skopeo/podman, secret scanning and the vulnerability policy with skopeo) again on the scale-out stores: blobs in a bucket
 * of the test S3 engine (Ceph radosgw), metadata, the OSV database and scan results in a PostgreSQL
 * database of their own. The suites register their tests when imported.
 */
import { describe } from "node:test";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";

const SUITES = [
  "../supply/sbom-e2e.test.js",
  "../supply/signature-gate-http.test.js",
  "../e2e/secrets-clients.test.js",
  "../e2e/signature-clients.test.js",
  "../e2e/vulns-clients.test.js",
];

const skip = skipUnlessS3() || skipUnlessPostgres();
if (skip) {
  describe("supply chain on s3 + postgres", { skip }, () => {});
} else {
  process.env.BERTH_TEST_BACKEND = "s3-postgres";
  for (const suite of SUITES) await import(new URL(suite, import.meta.url).href);
}
