import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import pg from "pg";
import { createTestDatabase, s3Settings, skipUnlessPostgres, skipUnlessS3, uniqueBucket } from "./helpers/services.js";

/**
 * The real engines `npm test` starts (scripts/test-with-services.sh) answer the way the drivers
 * expect: a Ceph radosgw speaking S3, a PostgreSQL server whose test role may create databases.
 */

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("S3 test engine", { skip: skipUnlessS3() }, () => {
  let s3: S3Client;
  const bucket = uniqueBucket("berth-services");

  before(async () => {
    const s = s3Settings()!;
    s3 = new S3Client({
      endpoint: s.endpoint,
      region: s.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s.accessKey, secretAccessKey: s.secretKey },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  after(async () => {
    if (!s3) return;
    try {
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    } catch (err) {
      if ((err as { name?: string }).name !== "NoSuchBucket") throw err;
    } finally {
      s3.destroy();
    }
  });

  async function get(key: string): Promise<Buffer> {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  }

  it("puts, gets and deletes an object", async () => {
    const body = Buffer.from("hello from berth\n");
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "small", Body: body }));
    assert.deepEqual(await get("small"), body);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "small" }));
    await assert.rejects(get("small"), { name: "NoSuchKey" });
  });

  it("assembles a two-part multipart upload (5 MiB + 1 byte)", async () => {
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "multi" }));
    assert.ok(UploadId);
    try {
      const uploaded = [];
      for (const [i, part] of parts.entries()) {
        const { ETag } = await s3.send(
          new UploadPartCommand({ Bucket: bucket, Key: "multi", UploadId, PartNumber: i + 1, Body: part }),
        );
        uploaded.push({ ETag, PartNumber: i + 1 });
      }
      await s3.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "multi", UploadId, MultipartUpload: { Parts: uploaded } }),
      );
    } catch (err) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: "multi", UploadId })).catch(() => {});
      throw err;
    }
    const whole = Buffer.concat(parts);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "multi" }));
    assert.equal(head.ContentLength, whole.length);
    assert.match(head.ETag ?? "", /-2"$/); // a multipart ETag names its part count
    assert.equal(sha256(await get("multi")), sha256(whole));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "multi" }));
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(list.KeyCount, 0);
  });
});

describe("PostgreSQL test engine", { skip: skipUnlessPostgres() }, () => {
  it("creates a database, answers SELECT 1 in it, and drops it", async () => {
    const db = await createTestDatabase();
    const name = new URL(db.url).pathname.slice(1);
    try {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ one: number; db: string }>("SELECT 1 AS one, current_database() AS db");
        assert.deepEqual(rows, [{ one: 1, db: name }]);
      } finally {
        await client.end();
      }
    } finally {
      await db.drop();
    }
    const admin = new pg.Client({ connectionString: process.env.BERTH_TEST_DATABASE_URL });
    await admin.connect();
    try {
      const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      assert.equal(rowCount, 0);
    } finally {
      await admin.end();
    }
  });
});
