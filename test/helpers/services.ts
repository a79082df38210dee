import { randomUUID } from "node:crypto";

/**
 * The real engines some tests need: an S3 endpoint (Ceph radosgw) and a PostgreSQL server.
 * `npm test` starts them through scripts/test-with-services.sh and passes their addresses in
 * BERTH_TEST_S3_* and BERTH_TEST_DATABASE_URL. When they are absent a test skips with a line
 * naming what to install; under CI=true it fails instead.
 */

export interface S3TestSettings {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
}

const HINT =
  "start them with `npm test` (scripts/test-with-services.sh), after `apt-get install ceph radosgw postgresql` or scripts/install-test-deps.sh";

function missing(what: string): string {
  const message = `needs ${what}: ${HINT}`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${message}`);
  return message;
}

export function s3Settings(): S3TestSettings | undefined {
  const { BERTH_TEST_S3_ENDPOINT, BERTH_TEST_S3_ACCESS_KEY, BERTH_TEST_S3_SECRET_KEY } = process.env;
  if (!BERTH_TEST_S3_ENDPOINT || !BERTH_TEST_S3_ACCESS_KEY || !BERTH_TEST_S3_SECRET_KEY) return undefined;
  return {
    endpoint: BERTH_TEST_S3_ENDPOINT,
    region: process.env.BERTH_TEST_S3_REGION ?? "us-east-1",
    accessKey: BERTH_TEST_S3_ACCESS_KEY,
    secretKey: BERTH_TEST_S3_SECRET_KEY,
  };
}

/** For `describe(..., { skip: skipUnlessS3() })`: false when S3 is there, a reason otherwise. */
export function skipUnlessS3(): false | string {
  return s3Settings() ? false : missing("an S3 engine (BERTH_TEST_S3_ENDPOINT)");
}

export function skipUnlessPostgres(): false | string {
  return process.env.BERTH_TEST_DATABASE_URL ? false : missing("PostgreSQL (BERTH_TEST_DATABASE_URL)");
}

/** A fresh bucket name per test suite, so suites never see each other's objects. */
export function uniqueBucket(prefix = "berth-test"): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/**
 * Creates an empty database on the test server and returns its URL; `drop()` removes it.
 * BERTH_TEST_DATABASE_URL must name a role allowed to CREATE DATABASE.
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const { default: pg } = await import("pg");
  const admin = process.env.BERTH_TEST_DATABASE_URL!;
  const name = `berth_test_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        // Autovacuum in the database makes a non-superuser's FORCE fail now and then (42501, 55006): retry.
        for (let attempt = 1; ; attempt++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            return;
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (attempt >= 10 || (code !== "42501" && code !== "55006")) throw err;
            await new Promise((r) => setTimeout(r, 200 * attempt));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

/** A client of the test S3 engine, with the settings Ceph needs (the SDK is loaded on first use). */
export async function s3TestClient(): Promise<import("@aws-sdk/client-s3").S3Client> {
  const s = s3Settings();
  if (!s) throw new Error("no test S3 engine (BERTH_TEST_S3_ENDPOINT)");
  const { S3Client } = await import("@aws-sdk/client-s3");
  return new S3Client({
    region: s.region,
    endpoint: s.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s.accessKey, secretAccessKey: s.secretKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Deletes a test bucket and everything in it. */
export async function deleteBucket(bucket: string): Promise<void> {
  if (!s3Settings()) return;
  const { ListObjectsV2Command, DeleteObjectsCommand, DeleteBucketCommand } = await import("@aws-sdk/client-s3");
  const client = await s3TestClient();
  try {
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if ((err as { name?: string }).name !== "NoSuchBucket") throw err;
  } finally {
    client.destroy();
  }
}
