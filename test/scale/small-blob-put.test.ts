import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { DIRECT_PUT_MAX } from "../../src/registry/uploads.js";
import { scaleOutEnv, startBerth, type TestBerth } from "../helpers/berth.js";
import { sha256 } from "../helpers/fixtures.js";
import { pullBlob } from "../helpers/push.js";
import { s3TestClient, skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";
import { asBody, patchChunk, startUpload, withQuery } from "../helpers/upload-session.js";

/**
 * Counts the object-store requests Berth sends while `work` runs, by command. The server's
 * background purge of stale uploads (a delimited listing of uploads/) is not the push's and is left out.
 */
async function countS3<T>(work: () => Promise<T>): Promise<{ result: T; requests: Map<string, number> }> {
  const requests = new Map<string, number>();
  const send = S3Client.prototype.send;
  S3Client.prototype.send = function (this: S3Client, command: { constructor: { name: string }; input?: { Delimiter?: string } }, ...rest: unknown[]) {
    if (!command.input?.Delimiter) requests.set(command.constructor.name, (requests.get(command.constructor.name) ?? 0) + 1);
    return (send as (...a: unknown[]) => Promise<unknown>).call(this, command, ...rest);
  } as typeof send;
  try {
    return { result: await work(), requests };
  } finally {
    S3Client.prototype.send = send;
  }
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe("small blobs pushed whole on S3 + PostgreSQL", { skip: skipUnlessS3() || skipUnlessPostgres() }, () => {
  let server: TestBerth;
  let cleanup: () => Promise<void>;
  let bucket: string;

  before(async () => {
    const backend = await scaleOutEnv();
    cleanup = backend.cleanup;
    bucket = backend.env.BERTH_S3_BUCKET!;
    server = await startBerth(backend.env);
  });
  after(async () => {
    await server.stop();
    await cleanup();
  });

  async function staged(): Promise<string[]> {
    const client = await s3TestClient();
    try {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "uploads/" }));
      return (page.Contents ?? []).map((o) => o.Key!);
    } finally {
      client.destroy();
    }
  }

  async function putWhole(repo: string, blob: Buffer, digest = sha256(blob)): Promise<Response> {
    const location = await startUpload(server.url, repo);
    return fetch(withQuery(location, { digest }), { method: "PUT", body: asBody(blob), headers: { "content-type": "application/octet-stream" } });
  }

  it("POST then PUT of a 4 KiB blob costs two object-store requests, stages nothing, and pulls back intact", async () => {
    const blob = randomBytes(4096);
    const { result: res, requests } = await countS3(() => putWhole("small/a", blob));
    assert.equal(res.status, 201, await res.text());
    assert.ok(total(requests) <= 2, `object-store requests: ${JSON.stringify([...requests])}`);
    assert.deepEqual(await pullBlob(server.url, "small/a", sha256(blob)), blob);
    assert.deepEqual(await staged(), []);
  });

  it("a single POST ?digest= with the body makes the blob with one object-store request", async () => {
    const blob = randomBytes(10_000);
    const { result: res, requests } = await countS3(() =>
      fetch(`${server.url}/v2/small/b/blobs/uploads/?digest=${sha256(blob)}`, { method: "POST", body: asBody(blob), headers: { "content-type": "application/octet-stream" } }),
    );
    assert.equal(res.status, 201, await res.text());
    assert.deepEqual([...requests], [["PutObjectCommand", 1]]);
    assert.deepEqual(await pullBlob(server.url, "small/b", sha256(blob)), blob);
  });

  it("a wrong digest is refused with DIGEST_INVALID and leaves neither the blob nor the session", async () => {
    const blob = randomBytes(2048);
    const wrong = sha256(Buffer.concat([blob, Buffer.from("x")]));
    const location = await startUpload(server.url, "small/c");
    const res = await fetch(withQuery(location, { digest: wrong }), { method: "PUT", body: asBody(blob), headers: { "content-type": "application/octet-stream" } });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code, "DIGEST_INVALID");
    assert.equal((await fetch(`${server.url}/v2/small/c/blobs/${wrong}`, { method: "HEAD" })).status, 404);
    assert.equal((await fetch(`${server.url}/v2/small/c/blobs/${sha256(blob)}`, { method: "HEAD" })).status, 404);
    assert.equal((await fetch(location)).status, 404, "the upload session is gone");
    assert.deepEqual(await staged(), []);
  });

  it("a final small PUT after a PATCH still completes the whole blob (staged bytes first)", async () => {
    const head = randomBytes(3000);
    const tail = randomBytes(1000);
    const blob = Buffer.concat([head, tail]);
    const location = await startUpload(server.url, "small/d");
    const patched = await patchChunk(location, head, 0);
    assert.equal(patched.status, 202);
    const next = new URL(patched.headers.get("location")!, server.url).toString();
    const res = await fetch(withQuery(next, { digest: sha256(blob) }), { method: "PUT", body: asBody(tail), headers: { "content-type": "application/octet-stream" } });
    assert.equal(res.status, 201, await res.text());
    assert.deepEqual(await pullBlob(server.url, "small/d", sha256(blob)), blob);
    assert.deepEqual(await staged(), []);
  });

  it("a blob just over the limit takes the staged path and arrives intact", async () => {
    const blob = randomBytes(DIRECT_PUT_MAX + 1);
    const { result: res, requests } = await countS3(() => putWhole("small/e", blob));
    assert.equal(res.status, 201, await res.text());
    assert.ok((requests.get("CopyObjectCommand") ?? 0) === 1, `staged then copied: ${JSON.stringify([...requests])}`);
    assert.deepEqual(await pullBlob(server.url, "small/e", sha256(blob)), blob);
    assert.deepEqual(await staged(), []);
  });
});
