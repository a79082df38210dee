import { createHash, randomBytes } from "node:crypto";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { digestAlgorithm, digestHex, type Digest } from "../../oci/digest.js";
import { StoreMissingError } from "./store-missing.js";
import { RegistryError } from "../../oci/errors.js";
import type { BlobStore, UploadState } from "../blob-store.js";
import { assembleObject, type Segment } from "./s3-assemble.js";
import { guardStore } from "../unavailable.js";
import { controlHandler, idleGuard, instrumentClient, s3Unavailable, S3_LABEL, streamingHandler, type S3Timeouts } from "./s3-timeouts.js";

/**
 * Keys under `prefix` in `bucket`:
 *
 *   blobs/<algorithm>/<first two hex chars>/<hex>      committed blobs, written only after verification
 *   uploads/<id>/<offset, 20 digits>-<random>          one object per appended chunk ("segment")
 *
 * A chunk is streamed to its own segment object (lib-storage turns an unknown-length body into a
 * multipart upload with bounded buffers). Segment keys are unique, so two nodes racing on one
 * upload leave two segments at one offset, which uploadState detects, rather than silently
 * overwriting each other. Commit assembles the segments into the blob's key with server-side
 * copies (small segments are gathered and streamed into parts of at least 5 MiB); the object
 * appears atomically when the copy or the multipart upload completes.
 */
export interface S3BlobStoreOptions {
  bucket: string;
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
  /** Key prefix for everything Berth writes, e.g. `berth/`. */
  prefix?: string;
  /** Answer blob GETs with a presigned URL valid this long (ms); undefined serves bytes through Berth. */
  redirectTtlMs?: number;
  /** With `create`, make the bucket when it does not exist (default true). */
  createBucket?: boolean;
  /** Opening for a new registry (default false: a missing bucket is a StoreMissingError, nothing created). */
  create?: boolean;
  /** Bounds on waiting for the store; one exceeded answers 503 UNAVAILABLE (see s3-timeouts.ts). */
  timeouts?: S3Timeouts;
}

const UPLOAD_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
const PART_SIZE = 8 * 1024 * 1024;

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

/**
 * Sockets to the object store. Every blob streamed through Berth holds one for as long as its
 * client takes, and a slow client holds it until the limits cut it (a minute by default): with the
 * SDK's 50, fifty clients that stop reading stalled every pull and push of the node (the storm on
 * S3, docs/performance.md). Idle ones are closed by keep-alive as usual.
 */
const OBJECT_STORE_SOCKETS = 1024;
const SOCKETS = { httpAgent: { maxSockets: OBJECT_STORE_SOCKETS }, httpsAgent: { maxSockets: OBJECT_STORE_SOCKETS } };

/** Settings Ceph and other S3 engines need: no aws-chunked streaming checksums (Ceph answers 411). */
export function s3ClientConfig(options: S3BlobStoreOptions): S3ClientConfig {
  return {
    region: options.region,
    forcePathStyle: options.forcePathStyle ?? false,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.accessKeyId && options.secretAccessKey
      ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
      : {}),
  };
}

export async function createS3BlobStore(options: S3BlobStoreOptions): Promise<BlobStore> {
  const timeouts = options.timeouts ?? {};
  const client = instrumentClient(new S3Client({ ...s3ClientConfig(options), requestHandler: { ...SOCKETS, ...controlHandler(timeouts) } }));
  // Blob bodies stream out through a client of their own: its sockets may sit paused behind a
  // slow puller, which the control client's idle timeout would take for a stalled store.
  const streaming = instrumentClient(new S3Client({ ...s3ClientConfig(options), requestHandler: { ...SOCKETS, ...streamingHandler(timeouts) } }));
  const Bucket = options.bucket;
  const prefix = options.prefix ?? "";

  const blobKey = (digest: Digest) => {
    const hex = digestHex(digest);
    return `${prefix}blobs/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}`;
  };
  const uploadPrefix = (id: string) => {
    if (!UPLOAD_ID_RE.test(id)) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", "invalid upload id", { id });
    return `${prefix}uploads/${id}/`;
  };

  async function* listKeys(keyPrefix: string, delimiter?: string): AsyncGenerator<{ key: string; size: number; isPrefix: boolean }> {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket, Prefix: keyPrefix, ContinuationToken: token, Delimiter: delimiter }),
      );
      for (const p of page.CommonPrefixes ?? []) yield { key: p.Prefix!, size: 0, isPrefix: true };
      for (const o of page.Contents ?? []) yield { key: o.Key!, size: o.Size ?? 0, isPrefix: false };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async function segmentsOf(id: string): Promise<Segment[]> {
    const segments: Segment[] = [];
    const base = uploadPrefix(id);
    for await (const { key, size } of listKeys(base)) {
      const offset = Number(key.slice(base.length).split("-")[0]);
      segments.push({ key, offset, size });
    }
    segments.sort((a, b) => a.offset - b.offset || a.key.localeCompare(b.key));
    let expected = 0;
    for (const s of segments) {
      if (s.offset !== expected) {
        throw new RegistryError("BLOB_UPLOAD_INVALID", "concurrent writes left this upload inconsistent; start again", {
          id,
        });
      }
      expected += s.size;
    }
    return segments;
  }

  const stateOf = (segments: Segment[]): UploadState => {
    const size = segments.reduce((sum, s) => sum + s.size, 0);
    const version = createHash("sha256").update(segments.map((s) => s.key).join("\n")).digest("hex");
    return { size, version };
  };

  async function readSegments(segments: Segment[]): Promise<Readable> {
    return Readable.from(
      (async function* () {
        for (const s of segments) {
          const res = await streaming.send(new GetObjectCommand({ Bucket, Key: s.key }));
          yield* idleGuard(res.Body as Readable, timeouts);
        }
      })(),
    );
  }

  async function deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const { Errors = [] } = await client.send(
        new DeleteObjectsCommand({ Bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      // Quiet mode reports only failures; a key already gone is not one.
      const failed = Errors.filter((e) => e.Code !== "NoSuchKey");
      if (failed.length > 0) throw new Error(`could not delete ${failed.length} objects, e.g. ${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message}`);
    }
  }

  async function exists(key: string): Promise<number | undefined> {
    try {
      return (await client.send(new HeadObjectCommand({ Bucket, Key: key }))).ContentLength ?? 0;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  // Always asked, so an unreachable endpoint or wrong credentials fail here rather than on the first push.
  try {
    await client.send(new HeadBucketCommand({ Bucket })).catch(async (err: unknown) => {
      if (!isNotFound(err)) throw err;
      if (!options.create) throw new StoreMissingError(`bucket ${Bucket}`);
      if (options.createBucket === false) throw new Error(`bucket ${Bucket} does not exist and storage.s3.createBucket is false`);
      await client.send(new CreateBucketCommand({ Bucket })).catch((e: { name?: string }) => {
        if (e?.name !== "BucketAlreadyOwnedByYou" && e?.name !== "BucketAlreadyExists") throw e;
      });
    });
  } catch (err) {
    client.destroy();
    streaming.destroy();
    throw err;
  }

  const store: BlobStore = {
    async stat(digest) {
      const size = await exists(blobKey(digest));
      return size === undefined ? undefined : { size };
    },

    async read(digest, range) {
      try {
        const res = await streaming.send(
          new GetObjectCommand({
            Bucket,
            Key: blobKey(digest),
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          }),
        );
        return idleGuard(res.Body as Readable, timeouts);
      } catch (err) {
        if (isNotFound(err)) throw new RegistryError("BLOB_UNKNOWN", undefined, { digest });
        throw err;
      }
    },

    async delete(digest) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: blobKey(digest) }));
    },

    async deleteMany(digests) {
      await deleteKeys(digests.map(blobKey));
    },

    async uploadState(id) {
      return stateOf(await segmentsOf(id));
    },

    async appendUpload(id, offset, body) {
      const segments = await segmentsOf(id);
      const current = stateOf(segments).size;
      if (current !== offset) {
        body.resume();
        throw new RegistryError("RANGE_INVALID", `upload holds ${current} bytes, chunk starts at ${offset}`, {
          size: current,
        });
      }
      const key = `${uploadPrefix(id)}${String(offset).padStart(20, "0")}-${randomBytes(6).toString("hex")}`;
      let written = 0;
      const counted = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          written += chunk.length;
          cb(null, chunk);
        },
      });
      const feeding = pipeline(body, counted);
      const upload = new Upload({
        client,
        params: { Bucket, Key: key, Body: counted },
        partSize: PART_SIZE,
        queueSize: 2,
        leavePartsOnError: false,
      });
      try {
        await Promise.all([upload.done(), feeding]);
      } catch (err) {
        feeding.catch(() => {});
        await upload.abort().catch(() => {});
        await client.send(new DeleteObjectCommand({ Bucket, Key: key })).catch(() => {});
        throw err;
      }
      if (written === 0) await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
      return stateOf(written === 0 ? segments : [...segments, { key, offset, size: written }]);
    },

    async putBlob(digest, bytes) {
      // One PUT replaces the object atomically; a blob already there holds these very bytes.
      await client.send(new PutObjectCommand({ Bucket, Key: blobKey(digest), Body: bytes, ContentLength: bytes.length }));
    },

    async readUpload(id) {
      return readSegments(await segmentsOf(id));
    },

    async commitUpload(id, digest) {
      const segments = await segmentsOf(id);
      const target = blobKey(digest);
      if ((await exists(target)) === undefined) {
        if (segments.length === 0) await client.send(new PutObjectCommand({ Bucket, Key: target, Body: "" }));
        else if (segments.length === 1 && segments[0]!.size <= 5 * 1024 ** 3) {
          await client.send(new CopyObjectCommand({ Bucket, Key: target, CopySource: `${Bucket}/${encodeURI(segments[0]!.key)}` }));
        } else await assembleObject(client, Bucket, target, segments, readSegments);
      }
      await deleteKeys(segments.map((s) => s.key));
    },

    async deleteUpload(id) {
      const keys: string[] = [];
      for await (const { key } of listKeys(uploadPrefix(id))) keys.push(key);
      await deleteKeys(keys);
    },

    async *listUploads() {
      const base = `${prefix}uploads/`;
      for await (const { key, isPrefix } of listKeys(base, "/")) {
        if (isPrefix) yield key.slice(base.length, -1);
      }
    },

    async ping() {
      await client.send(new HeadBucketCommand({ Bucket }));
    },

    async close() {
      client.destroy();
      streaming.destroy();
    },
  };

  if (options.redirectTtlMs !== undefined) {
    const expiresIn = Math.max(1, Math.round(options.redirectTtlMs / 1000));
    store.redirectUrl = (digest) => getSignedUrl(client, new GetObjectCommand({ Bucket, Key: blobKey(digest) }), { expiresIn });
  }
  return guardStore(store, "blobs", S3_LABEL, s3Unavailable(timeouts));
}
