import type { Config } from "../config/schema.js";
import { CLI } from "./cli-logger.js";
import { cliLogger } from "./cli-logger.js";
import type { RetentionReport } from "../registry/retention.js";
import { openBerthServices } from "../compose.js";

/**
 * `berth retention [--dry-run] [--json]`: applies the configured retention rules once, over the
 * same stores as `berth serve` (it works while servers run: the "retention" lock lets one run at a
 * time, and this one waits for it). Deletions go to the audit log wherever the registry keeps one.
 */
export async function retentionCommand(config: Config, flags: { dryRun: boolean; json: boolean }): Promise<number> {
  if (config.retention.rules.length === 0) {
    process.stderr.write("berth: no retention rules are configured (retention.rules); nothing to do\n");
    return 0;
  }
  // Deletions are audited wherever the registry keeps an audit log (the composition root subscribes it), whatever this invocation's flags.
  const services = await openBerthServices(config, { auth: "existing", logger: cliLogger });
  const { registry } = services;
  try {
    const report = await registry.retention.run({
      origin: CLI,
      dryRun: flags.dryRun,
      wait: true,
    });
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return 0;
  } finally {
    await services.close();
  }
}

const when = (ms: number | undefined) => (ms === undefined ? "never" : new Date(ms).toISOString());

/** The report for a terminal: one line per tag and manifest, what goes first. */
export function formatReport(report: RetentionReport): string {
  const would = report.dryRun ? "would be " : "";
  const out = [
    `retention${report.dryRun ? " (dry run, nothing changed)" : ""}: ${report.tagsDeleted} tags ${would}deleted, ` +
      `${report.tagsKept} kept, ${report.manifestsDeleted} untagged manifests ${would}removed`,
  ];
  for (const r of report.repositories) {
    out.push(`${r.repository} (rule ${r.rule})`);
    for (const t of r.deleted) out.push(`  delete  ${t.tag}  ${t.digest}  pushed ${when(t.pushedAt)}, pulled ${when(t.pulledAt)}`);
    for (const t of r.moved) out.push(`  moved   ${t.tag}  (pushed again meanwhile: kept)`);
    for (const d of r.untaggedManifests) out.push(`  delete  ${d}  (untagged)`);
    for (const t of r.kept) out.push(`  keep    ${t.tag}  ${t.reasons.join(", ")}`);
  }
  return `${out.join("\n")}\n`;
}
