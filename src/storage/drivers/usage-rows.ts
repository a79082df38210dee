import type { RegistryUsageRows, UsageNumbers } from "../usage-store.js";

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

interface Count {
  n: number;
  bytes: number;
}

/** The registry-wide report from the rows both drivers select for it. */
export function toRegistryUsage(rows: {
  blobs: Count;
  unreferenced: Count;
  manifests: Count;
  sumRepositoryBlobBytes: number;
  namespaces: { ns: string; repositories: number; manifest_bytes: number }[];
  namespaceBlobBytes: { ns: string; bytes: number }[];
}): RegistryUsageRows {
  const blobBytesOf = new Map(rows.namespaceBlobBytes.map((r) => [r.ns, r.bytes]));
  const namespaces = rows.namespaces.map((r) => ({
    namespace: r.ns,
    repositories: r.repositories,
    referencedBytes: (blobBytesOf.get(r.ns) ?? 0) + r.manifest_bytes,
  }));
  return {
    blobs: rows.blobs.n,
    blobBytes: rows.blobs.bytes,
    unreferencedBlobs: rows.unreferenced.n,
    unreferencedBytes: rows.unreferenced.bytes,
    manifests: rows.manifests.n,
    manifestBytes: rows.manifests.bytes,
    repositories: namespaces.reduce((n, r) => n + r.repositories, 0),
    sumRepositoryBytes: rows.sumRepositoryBlobBytes + rows.manifests.bytes,
    namespaces,
  };
}
