import type { UsageNumbers } from "../usage-store.js";

/** Per-scope blob totals as both SQL drivers select them, and their mapping to UsageNumbers. */
export interface Totals {
  blobs: number;
  blob_bytes: number;
  freeable: number;
}

export function numbers(blobs: Totals | undefined, manifests: { n: number; bytes: number } | undefined): UsageNumbers {
  const blobBytes = blobs?.blob_bytes ?? 0;
  const manifestBytes = manifests?.bytes ?? 0;
  return {
    blobs: blobs?.blobs ?? 0,
    blobBytes,
    manifests: manifests?.n ?? 0,
    manifestBytes,
    referencedBytes: blobBytes + manifestBytes,
    freeableBytes: (blobs?.freeable ?? 0) + manifestBytes,
  };
}
