import type { Digest, DigestAlgorithm } from "../../oci/digest.js";
import type { ReferrerRecord, StoredManifest, UploadSession } from "../metadata-store.js";

/** Rows as both SQL drivers select them (the schemas share column names), and their mapping. */

export interface ManifestRow {
  digest: string;
  media_type: string;
  content: Buffer;
  subject: string | null;
  created_at: number;
}

export interface UploadRow {
  id: string;
  repository: string;
  algorithm: string;
  created_at: number;
  updated_at: number;
}

export interface ReferrerRow {
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  annotations: string | null;
}

export const toManifest = (row: ManifestRow): StoredManifest => ({
  digest: row.digest as Digest,
  mediaType: row.media_type,
  content: row.content,
  ...(row.subject !== null ? { subject: row.subject as Digest } : {}),
  createdAt: row.created_at,
});

export const toUpload = (row: UploadRow): UploadSession => ({
  id: row.id,
  repository: row.repository,
  algorithm: row.algorithm as DigestAlgorithm,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const toReferrer = (row: ReferrerRow): ReferrerRecord => {
  const record: ReferrerRecord = { digest: row.digest as Digest, mediaType: row.media_type, size: row.size };
  if (row.artifact_type !== null) record.artifactType = row.artifact_type;
  if (row.annotations !== null) record.annotations = JSON.parse(row.annotations) as Record<string, string>;
  return record;
};
