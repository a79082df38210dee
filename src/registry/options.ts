import type { TagRule } from "../oci/tag-rules.js";
import type { GcPolicy, QuotaPolicy, RetentionPolicy } from "./policies.js";

export type { GcPolicy } from "./policies.js";

/** The registry's rules that configuration can change. */
export interface RegistryOptions {
  /** Allow DELETE of manifests, tags and blobs; when false they answer UNSUPPORTED. */
  deleteEnabled: boolean;
  /** Mount a blob by digest without `from` (or from a repository lacking it) when the registry has it. */
  anonymousMount: boolean;
  /** Largest manifest accepted, in bytes. */
  maxManifestSize: number;
  /** An upload with no activity for this long is cancelled and its staged data purged. */
  uploadExpiryMs: number;
  /** Upper bound on `n` for tag and catalog listings; larger requests are clamped. */
  maxPageSize: number;
  /** Immutable tags and tag naming rules, in configuration order. */
  tagRules: readonly TagRule[];
  /** Garbage collection's defaults (`gc` in the configuration); a run may override them. */
  gc: GcPolicy;
  /** Storage quotas per namespace and per repository (`quotas` in the configuration). */
  quotas: QuotaPolicy;
  /** Retention rules (`retention` in the configuration), applied by `registry.retention.run()`. */
  retention: RetentionPolicy;
}

export const DEFAULT_REGISTRY_OPTIONS: RegistryOptions = {
  deleteEnabled: true,
  anonymousMount: true,
  maxManifestSize: 4 * 1024 * 1024,
  uploadExpiryMs: 24 * 60 * 60 * 1000,
  maxPageSize: 1000,
  tagRules: [],
  gc: { graceMs: 60 * 60 * 1000, deleteUntagged: false, orphanReferrers: "delete" },
  quotas: { warnAt: 0.8, rules: [] },
  retention: { rules: [], graceMs: 60 * 60 * 1000 },
};
