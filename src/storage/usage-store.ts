import type { Digest } from "../oci/digest.js";

/**
 * Storage usage, read from the metadata alone (blob sizes and manifest sizes are columns): the
 * BlobStore is never listed. Blobs are stored once and shared; these numbers count a shared blob
 * honestly:
 *
 * - A repository *references* a blob when it links it or one of its manifests references it.
 *   Its `referencedBytes` are the sizes of the distinct blobs it references plus its manifests'
 *   bytes (manifests are stored per repository).
 * - Its `freeableBytes` are what deleting it would free: its manifests' bytes plus the blobs no
 *   other repository references (an upload claiming the same digest is not considered).
 * - A *scope* is a repository name or a namespace prefix: `team` covers `team` and every name
 *   under `team/`; `team/app` covers `team/app` and `team/app/…`. Within a scope a blob counts
 *   once, and it is freeable when nothing outside the scope references it.
 *
 * Scope queries read only the rows of the scope's repositories (by index, plus one index probe
 * per blob for freeable bytes); `registryUsage` reads every row and is for callers that cache it.
 */
export interface UsageStore {
  /** Usage of the scope and of each of its repositories (by name); zero totals when it has none. */
  scopeUsage(scope: string): Promise<ScopeUsage>;
  /**
   * Just `referencedBytes` of the scope: the cheap number a quota check needs (no freeable
   * bytes, no per-repository rows). With `exact`, the repository named `scope` alone.
   */
  scopeBytes(scope: string, options?: ScopeOptions): Promise<number>;
  /** Those of `digests` some repository of the scope already references (they add nothing to it). */
  blobsInScope(scope: string, digests: readonly Digest[], options?: ScopeOptions): Promise<Digest[]>;
  /** The whole registry, namespace by namespace (first path component). Reads every row: cache it. */
  registryUsage(): Promise<RegistryUsageRows>;
  /**
   * Registry-wide counts for metrics: one aggregate per table (live blobs, repositories, manifests,
   * tags), no joins, read in one snapshot. Shared by every node on one database, so the numbers
   * are the registry's, not this process's. Still proportional to the table sizes: callers cache it
   * (`/metrics` refreshes it at most every `metrics.storageRefresh`).
   */
  storageTotals(): Promise<StorageTotals>;
}

export interface StorageTotals {
  /** Distinct blobs stored (state `live`, shared ones once, referenced or not). */
  blobs: number;
  /** Their total size. */
  blobBytes: number;
  repositories: number;
  /** Manifests over all repositories (the same digest in two repositories counts twice). */
  manifests: number;
  /** Their total size. */
  manifestBytes: number;
  tags: number;
}

export interface ScopeOptions {
  /** Only the repository named exactly `scope`, not the names under `scope/`. */
  exact?: boolean;
}

export interface UsageNumbers {
  /** Distinct blobs referenced. */
  blobs: number;
  /** Their total size. */
  blobBytes: number;
  manifests: number;
  manifestBytes: number;
  /** `blobBytes + manifestBytes`. */
  referencedBytes: number;
  /** What deleting it (every repository of the scope) would free. */
  freeableBytes: number;
}

export interface ScopeUsage {
  scope: string;
  total: UsageNumbers;
  /** Each repository of the scope on its own, by name; `freeableBytes` there is for that repository alone. */
  repositories: ({ name: string } & UsageNumbers)[];
}

export interface RegistryUsageRows {
  /** Distinct live blobs stored (shared ones once), referenced or not. */
  blobs: number;
  blobBytes: number;
  /** Blobs nothing links or references (garbage collection will reclaim them). */
  unreferencedBlobs: number;
  unreferencedBytes: number;
  manifests: number;
  manifestBytes: number;
  repositories: number;
  /** Σ over repositories of their `referencedBytes` (shared blobs counted once per repository). */
  sumRepositoryBytes: number;
  /** Per namespace: distinct blobs within it once, plus manifest bytes, and its repository count. */
  namespaces: { namespace: string; repositories: number; referencedBytes: number }[];
}
