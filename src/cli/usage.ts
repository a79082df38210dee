import type { Config } from "../config/schema.js";
import { formatBytes } from "../registry/quotas.js";
import type { QuotaReport } from "../registry/usage.js";
import { openBerthServices } from "../compose.js";

const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const quotaText = (q: QuotaReport) =>
  `${formatBytes(q.used)} of ${formatBytes(q.limit)} (${pct(q.ratio)}${q.warning ? `, above the ${pct(q.warnAt)} warning` : ""})`;

/** Fixed-width columns, the first left-aligned and the rest right-aligned. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd()).join("\n") + "\n";
}

/**
 * `berth usage [SCOPE] [--json]`: storage usage from the metadata store named by `config` (it works
 * while servers run). Without SCOPE, the registry-wide summary computed now; with one, that
 * repository or namespace prefix and every repository under it, with the quotas that apply.
 * Exit 0, or 1 when no repository matches SCOPE.
 */
export async function usageCommand(config: Config, scope: string | undefined, json: boolean): Promise<number> {
  const services = await openBerthServices(config);
  const { registry } = services;
  const out = (text: string) => process.stdout.write(text);
  try {
    if (scope === undefined) {
      const s = await registry.usage.summary({ fresh: true });
      if (json) return out(`${JSON.stringify(s, null, 2)}\n`), 0;
      out(
        [
          `Stored: ${formatBytes(s.storedBytes)} (${s.blobs} blobs, ${formatBytes(s.blobBytes)}; ${s.manifests} manifests, ${formatBytes(s.manifestBytes)})`,
          `Unreferenced, for garbage collection: ${formatBytes(s.unreferencedBytes)} (${s.unreferencedBlobs} blobs)`,
          `Sum over ${s.repositories} repositories: ${formatBytes(s.sumRepositoryBytes)}; deduplication saves ${formatBytes(s.deduplicationSavings)}`,
          "",
        ].join("\n"),
      );
      if (s.namespaces.length > 0) {
        out(table([
          ["NAMESPACE", "REPOS", "REFERENCED", "QUOTA"],
          ...s.namespaces.map((n) => [n.namespace, String(n.repositories), formatBytes(n.referencedBytes), n.quota ? quotaText(n.quota) : "-"]),
        ]));
      }
      return 0;
    }
    const report = await registry.usage.scope(scope);
    if (report.repositories.length === 0) {
      process.stderr.write(`berth usage: no repository is named ${scope} or lies under ${scope}/\n`);
      return 1;
    }
    if (json) return out(`${JSON.stringify(report, null, 2)}\n`), 0;
    const t = report.total;
    out(
      `${scope}: references ${formatBytes(t.referencedBytes)} (${t.blobs} blobs, ${t.manifests} manifests); deleting it would free ${formatBytes(t.freeableBytes)}\n`,
    );
    for (const q of report.quotas) out(`quota ${q.kind} ${q.scope} (rule "${q.rule}"): ${quotaText(q)}\n`);
    out(table([
      ["REPOSITORY", "BLOBS", "MANIFESTS", "REFERENCED", "FREEABLE"],
      ...report.repositories.map((r) => [r.name, String(r.blobs), String(r.manifests), formatBytes(r.referencedBytes), formatBytes(r.freeableBytes)]),
    ]));
    return 0;
  } finally {
    await services.close();
  }
}

