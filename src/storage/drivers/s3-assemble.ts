import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from "@aws-sdk/client-s3";

/** One staged chunk of an upload: an object holding bytes [offset, offset + size). */
export interface Segment {
  key: string;
  offset: number;
  size: number;
}

/** S3's smallest part, except for the last one. */
export const MIN_PART = 5 * 1024 * 1024;
/** S3's largest part (and largest single copy). */
const MAX_PART = 5 * 1024 ** 3;
const COPY_PART = 1024 ** 3;

/**
 * Writes the concatenation of `segments` to `target` as one multipart upload. A segment of at
 * least 5 MiB becomes parts copied server-side (in 1 GiB ranges when larger than S3's part
 * limit); runs of smaller segments are streamed through this process into one part of at least
 * 5 MiB, never held whole. The target appears only when the upload completes; on failure the
 * multipart upload is aborted and nothing appears.
 */
export async function assembleObject(
  client: S3Client,
  Bucket: string,
  target: string,
  segments: Segment[],
  read: (segments: Segment[]) => Promise<Readable>,
): Promise<void> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: target }));
  const parts: CompletedPart[] = [];
  const base = { Bucket, Key: target, UploadId };

  const copy = async (segment: Segment) => {
    const ranges: (string | undefined)[] = [];
    if (segment.size <= MAX_PART) ranges.push(undefined);
    else for (let start = 0; start < segment.size; start += COPY_PART) {
      ranges.push(`bytes=${start}-${Math.min(segment.size, start + COPY_PART) - 1}`);
    }
    for (const CopySourceRange of ranges) {
      const PartNumber = parts.length + 1;
      const res = await client.send(
        new UploadPartCopyCommand({
          ...base,
          PartNumber,
          CopySource: `${Bucket}/${encodeURI(segment.key)}`,
          ...(CopySourceRange ? { CopySourceRange } : {}),
        }),
      );
      parts.push({ PartNumber, ETag: res.CopyPartResult?.ETag });
    }
  };
  const stream = async (group: Segment[]) => {
    const PartNumber = parts.length + 1;
    const ContentLength = group.reduce((sum, s) => sum + s.size, 0);
    const res = await client.send(new UploadPartCommand({ ...base, PartNumber, ContentLength, Body: await read(group) }));
    parts.push({ PartNumber, ETag: res.ETag });
  };

  try {
    let group: Segment[] = [];
    let groupSize = 0;
    for (const segment of segments) {
      if (group.length === 0 && segment.size >= MIN_PART) {
        await copy(segment);
        continue;
      }
      group.push(segment);
      groupSize += segment.size;
      if (groupSize >= MIN_PART) {
        await stream(group);
        group = [];
        groupSize = 0;
      }
    }
    if (group.length > 0) await stream(group);
    await client.send(new CompleteMultipartUploadCommand({ ...base, MultipartUpload: { Parts: parts } }));
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand(base)).catch(() => {});
    throw err;
  }
}
