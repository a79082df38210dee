import type { Config } from "../config/schema.js";
import { CLI } from "./cli-logger.js";
import { cliLogger } from "./cli-logger.js";
import type { GcProgress } from "../registry/gc.js";
import { openBerthServices } from "../compose.js";
import { createProgressBar, formatBytes } from "./progress.js";

export interface GcFlags {
  dryRun: boolean;
  deleteUntagged: boolean;
  wait: boolean;
  json: boolean;
}

/**
 * `berth gc`: one garbage collection over the stores `config` names, safe while servers on the
 * same stores keep serving. The report goes to stdout (a summary, or the whole of it with
 * --json); progress to stderr. Exit 0 when it ran, 3 when another collection held the lock.
 */
export async function gcCommand(config: Config, flags: GcFlags): Promise<number> {
  const services = await openBerthServices(config, { auth: "existing", logger: cliLogger });
  const { registry } = services;
  const bar = createProgressBar();
  const label = (p: GcProgress) =>
    p.phase === "blobs" ? `blobs: ${p.done} deleted` : p.phase === "uploads" ? "purging expired uploads" : `repositories: ${p.done}/${p.total ?? "?"}`;
  try {
    const report = await registry.gc.run({
      origin: CLI,
      dryRun: flags.dryRun,
      wait: flags.wait,
      ...(flags.deleteUntagged ? { deleteUntagged: true } : {}),
      onProgress: (p) => bar.update(p.done, p.total ?? p.done, label(p)),
    });
    bar.finish();
    if (report.skipped) {
      process.stderr.write(`berth gc: ${report.skipped}; nothing done (use --wait to wait for it)\n`);
      return 3;
    }
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    }
    const verb = report.dryRun ? "would delete" : "deleted";
    process.stdout.write(
      [
        `${report.dryRun ? "Dry run: nothing was deleted.\n" : ""}Garbage collection over ${report.repositories} repositories in ${(report.durationMs / 1000).toFixed(1)} s`,
        `  manifests ${verb}: ${report.manifestsDeleted}`,
        `  blob links ${report.dryRun ? "would be " : ""}removed: ${report.linksRemoved}`,
        `  blobs ${verb}: ${report.blobsDeleted} (${formatBytes(report.bytesReclaimed)})`,
        ...(report.dryRun ? [] : [`  expired uploads purged: ${report.uploadsPurged}`]),
        ...report.manifests.map((m) => `  manifest ${m.repository}@${m.digest}`),
        ...report.blobs.map((b) => `  blob ${b.digest} ${formatBytes(b.size ?? 0)}`),
        ...(report.truncated ? ["  (lists truncated; counts are exact; --json has the same lists)"] : []),
      ].join("\n") + "\n",
    );
    return 0;
  } finally {
    await services.close();
  }
}

