import { basename } from "node:path";
import type { Config } from "../config/schema.js";
import { openMetadataStore } from "../storage/create-stores.js";
import { importOsv, type ImportSummary } from "../supply/vulns/import.js";
import { checkOsvFile } from "../supply/vulns/osv-files.js";
import { osvStatus } from "../supply/vulns/osv-keys.js";

export type VulndbCommandName = "vulndb import" | "vulndb status";

/** Fixed-width columns, the first left-aligned and the rest right-aligned. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd()).join("\n") + "\n";
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function formatSummary(s: ImportSummary, files: readonly string[]): string {
  const rows = [["ECOSYSTEM", "RECORDS", "ADDED", "UPDATED", "MALFORMED", "IN DATABASE"]];
  for (const e of s.ecosystems) rows.push([e.ecosystem, String(e.records), String(e.added), String(e.updated), String(e.malformed), String(e.total)]);
  const rate = s.elapsedMs > 0 ? `, ${Math.round((s.records * 1000) / s.elapsedMs)} records/s` : "";
  return (
    (s.ecosystems.length > 0 ? table(rows) : "") +
    `${s.records} records from ${files.length} file${files.length === 1 ? "" : "s"} in ${seconds(s.elapsedMs)}${rate}; ` +
    `${s.malformed} malformed; database generation ${s.generation}\n`
  );
}

/**
 * `berth vulndb import FILE…` and `berth vulndb status`: the offline vulnerability database in
 * the registry's metadata store (SQLite beside the data, or the configured PostgreSQL, so every
 * node sees one import). Import checks every file before writing anything: a missing or unreadable
 * one is exit 1 (naming each) with nothing imported. Malformed records are counted and the first few named on
 * stderr; they do not fail the import. Progress goes to stderr, the summary to stdout.
 */
export async function vulndbCommand(config: Config, command: VulndbCommandName, files: string[], flags: { json?: boolean }): Promise<number> {
  if (command === "vulndb import") {
    const problems: string[] = [];
    for (const file of files) await checkOsvFile(file).catch((err: Error) => problems.push(err.message));
    if (problems.length > 0) {
      process.stderr.write(`berth vulndb import: ${problems.join("; ")}; nothing imported\n`);
      return 1;
    }
  }
  const store = await openMetadataStore(config);
  try {
    if (command === "vulndb status") {
      const status = await osvStatus(store);
      if (flags.json) return process.stdout.write(`${JSON.stringify(status, null, 2)}\n`), 0;
      if (status.ecosystems.length === 0) {
        process.stdout.write("no vulnerability database imported yet: berth vulndb import FILE… (OSV all.zip exports)\n");
        return 0;
      }
      const rows = [["ECOSYSTEM", "RECORDS", "IMPORTED", "FROM"]];
      for (const e of status.ecosystems) rows.push([e.ecosystem, String(e.records), new Date(e.importedAt).toISOString(), e.source]);
      process.stdout.write(`${table(rows)}database generation ${status.generation}\n`);
      return 0;
    }
    const summary = await importOsv({
      store,
      files,
      onProgress: (p) => process.stderr.write(`berth vulndb import: ${basename(p.file)}: ${p.records} records read, ${p.malformed} malformed\n`),
    });
    for (const m of summary.firstMalformed) {
      process.stderr.write(`berth vulndb import: malformed: ${basename(m.file)}${m.entry !== m.file ? ` ${m.entry}` : ""}${m.id ? ` (${m.id})` : ""}: ${m.reason}\n`);
    }
    if (summary.malformed > summary.firstMalformed.length) {
      process.stderr.write(`berth vulndb import: … and ${summary.malformed - summary.firstMalformed.length} more malformed records\n`);
    }
    process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary, files));
    return 0;
  } finally {
    await store.close();
  }
}
