import type { MetadataStore } from "../storage/metadata-store.js";
import type { ScopeUsage, UsageNumbers } from "../storage/usage-store.js";
import { namespaceOf, type QuotaStatus, type Quotas } from "./quotas.js";

/** A quota next to the usage it limits. */
export interface QuotaReport {
  kind: "namespace" | "repository";
  scope: string;
  rule: string;
  limit: number;
  used: number;
  /** `used / limit`. */
  ratio: number;
  warnAt: number;
  warning: boolean;
}

/** Usage of a repository or namespace prefix, live, with the quotas that apply. */
export interface ScopeReport {
  scope: string;
  total: UsageNumbers;
  repositories: ({ name: string; quota?: QuotaReport } & UsageNumbers)[];
  /** Quotas on the scope's namespace (when the scope is a namespace, or within one) and on its repositories. */
  quotas: QuotaReport[];
}

/** The registry as a whole; recomputed at most once per SUMMARY_TTL_MS (it reads every row). */
export interface RegistryUsageReport {
  computedAt: string;
  /** Bytes kept: distinct blobs (each once, however many repositories share it) plus manifests. */
  storedBytes: number;
  blobs: number;
  blobBytes: number;
  manifests: number;
  manifestBytes: number;
  /** Blobs nothing references any more; garbage collection reclaims them. */
  unreferencedBlobs: number;
  unreferencedBytes: number;
  repositories: number;
  /** Σ of every repository's referenced bytes: what the registry would hold without sharing. */
  sumRepositoryBytes: number;
  /** `sumRepositoryBytes − (storedBytes − unreferencedBytes)`: bytes saved by storing shared blobs once. */
  deduplicationSavings: number;
  namespaces: { namespace: string; repositories: number; referencedBytes: number; quota?: QuotaReport }[];
}

export interface UsageReports {
  /** Registry-wide numbers; cached for SUMMARY_TTL_MS unless `fresh`. */
  summary(options?: { fresh?: boolean }): Promise<RegistryUsageReport>;
  /** A repository or namespace prefix (`team` is `team` and `team/…`), computed live from indexed rows. */
  scope(scope: string): Promise<ScopeReport>;
}

export const SUMMARY_TTL_MS = 60_000;

function quotaReport(q: QuotaStatus): QuotaReport {
  const ratio = q.limit > 0 ? q.used / q.limit : 1;
  return { ...q, ratio, warning: ratio > q.warnAt };
}

export function createUsageReports(metadata: MetadataStore, quotas: Quotas): UsageReports {
  let cached: { at: number; report: Promise<RegistryUsageReport> } | undefined;

  async function computeSummary(): Promise<RegistryUsageReport> {
    const rows = await metadata.registryUsage();
    const storedBytes = rows.blobBytes + rows.manifestBytes;
    return {
      computedAt: new Date().toISOString(),
      storedBytes,
      blobs: rows.blobs,
      blobBytes: rows.blobBytes,
      manifests: rows.manifests,
      manifestBytes: rows.manifestBytes,
      unreferencedBlobs: rows.unreferencedBlobs,
      unreferencedBytes: rows.unreferencedBytes,
      repositories: rows.repositories,
      sumRepositoryBytes: rows.sumRepositoryBytes,
      deduplicationSavings: rows.sumRepositoryBytes - (storedBytes - rows.unreferencedBytes),
      namespaces: rows.namespaces.map((ns) => {
        const rule = quotas.rulesFor(ns.namespace).find((q) => q.kind === "namespace");
        return { ...ns, ...(rule ? { quota: quotaReport({ ...rule, used: ns.referencedBytes }) } : {}) };
      }),
    };
  }

  return {
    summary({ fresh = false } = {}) {
      if (fresh || !cached || Date.now() - cached.at > SUMMARY_TTL_MS) {
        const report = computeSummary();
        // Concurrent callers share one computation; a failed one is not kept.
        cached = { at: Date.now(), report };
        report.catch(() => {
          if (cached?.report === report) cached = undefined;
        });
      }
      return cached.report;
    },

    async scope(scope) {
      const usage: ScopeUsage = await metadata.scopeUsage(scope);
      const repositories = usage.repositories.map((r) => {
        const rule = quotas.rulesFor(r.name).find((q) => q.kind === "repository");
        return { ...r, ...(rule ? { quota: quotaReport({ ...rule, used: r.referencedBytes }) } : {}) };
      });
      const reports: QuotaReport[] = [];
      // The namespace quota of the scope's namespace, counted over the whole namespace.
      const nsRule = quotas.rulesFor(scope).find((q) => q.kind === "namespace");
      if (nsRule) {
        const used = nsRule.scope === scope ? usage.total.referencedBytes : await metadata.scopeBytes(namespaceOf(scope));
        reports.push(quotaReport({ ...nsRule, used }));
      }
      for (const r of repositories) if (r.quota) reports.push(r.quota);
      return { scope: usage.scope, total: usage.total, repositories, quotas: reports };
    },
  };
}
