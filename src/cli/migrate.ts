import { loadConfig } from "../config/load.js";
import { cliLogger } from "./cli-logger.js";
import { migrateRegistry } from "../registry/migrate.js";
import { openBerthServices } from "../compose.js";
import { createProgressBar, formatBytes } from "./progress.js";

/**
 * `berth migrate --from A.yaml --to B.yaml`: copies a whole registry between two configurations
 * (for instance the embedded default and S3 + PostgreSQL), verifying every digest, with its access
 * control when the source has any (only then is the target's auth store created). Run it again
 * after an interruption: it skips what the target already holds. Only the two files are read,
 * not BERTH_* variables, so the source and target cannot be mixed up.
 */
export async function migrateCommand(from: string | undefined, to: string | undefined): Promise<number> {
  if (!from || !to) {
    process.stderr.write("berth migrate: --from FILE and --to FILE (two configuration files) are required\n");
    return 2;
  }
  const fromConfig = loadConfig({ file: from, env: {} });
  const toConfig = loadConfig({ file: to, env: {} });
  const source = await openBerthServices(fromConfig, { auth: "existing", logger: cliLogger });
  // The destination is the one place besides `serve` where a new registry is meant to appear.
  const target = await openBerthServices(toConfig, { create: true, auth: source.authStore ? "required" : "none", logger: cliLogger }).catch(async (err: unknown) => {
    await source.close();
    throw err;
  });
  const caches = new Set([...fromConfig.proxy.upstreams, ...toConfig.proxy.upstreams].map((u) => u.name));
  const bar = createProgressBar();
  try {
    const report = await migrateRegistry({ ...source.registry.stores, authStore: source.authStore }, { ...target.registry.stores, authStore: target.authStore }, (p) =>
      bar.update(
        p.bytesDone,
        p.bytesTotal,
        `${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}  repositories ${p.repositoriesDone}/${p.repositories}  blobs copied ${p.blobsCopied}, present ${p.blobsPresent}`,
      ),
      { isCacheRepository: (repo) => repo.includes("/") && caches.has(repo.split("/")[0]!) },
    );
    bar.finish();
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    const access = report.accessControl;
    if (access && access.replaced.length + access.targetOnly.length > 0) {
      process.stderr.write(`berth migrate: access control merged: ${access.replaced.length} target record(s) replaced by the source's, ${access.targetOnly.length} kept that only the target has (listed above)\n`);
    }
    if (report.problems.length > 0) {
      process.stderr.write(`berth migrate: finished with ${report.problems.length} problem(s) in the source, listed above\n`);
      return 1;
    }
    return 0;
  } finally {
    await Promise.all([source.close(), target.close()]);
  }
}
