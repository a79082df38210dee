import type Database from "better-sqlite3";
import type { RegistryUsageRows, StorageTotals, UsageStore } from "../usage-store.js";
import { numbers, toRegistryUsage, type Totals } from "./usage-rows.js";

/**
 * The repositories of a scope (`@scope` the name, `@lo` name + "/", `@hi` name + "0"): the name itself and
 * every name in ["name/", "name0"), which is exactly the names starting with "name/" since "0"
 * follows "/" in byte order. Both are ranges on the repositories' unique name index.
 */
const SCOPE = "SELECT id FROM repositories WHERE name = @scope OR (name > @lo AND name < @hi)";

/**
 * (repository, blob) pairs of the scope: links and manifest references, each pair once. `+kind`
 * keeps SQLite off the (kind, digest) index, which would scan every reference of the registry,
 * and on the primary key's repository_id prefix.
 */
const PAIRS = `SELECT repository_id AS rid, digest FROM repository_blobs WHERE repository_id IN (${SCOPE})
  UNION SELECT repository_id AS rid, digest FROM manifest_references WHERE +kind = 'blob' AND repository_id IN (${SCOPE})`;

/** Whether a repository other than `rid` (or outside the scope) references `d.digest`. */
const OTHER_REPO = (outside: string) => `(EXISTS (SELECT 1 FROM repository_blobs o WHERE o.digest = d.digest AND ${outside})
  OR EXISTS (SELECT 1 FROM manifest_references o WHERE o.kind = 'blob' AND o.digest = d.digest AND ${outside}))`;

interface ScopeArgs {
  scope: string;
  lo: string;
  hi: string;
}

/** With `exact` the range is empty ("x/" < name < "x/" holds for no name): the repository alone. */
const scopeArgs = (scope: string, exact = false): ScopeArgs => ({ scope, lo: `${scope}/`, hi: exact ? `${scope}/` : `${scope}0` });

/** The UsageStore half of the SQLite metadata store: read-only queries over the metadata tables. */
export function createSqliteUsage(db: Database.Database): UsageStore {
  const q = {
    repos: db.prepare<[ScopeArgs], { id: number; name: string }>(
      "SELECT id, name FROM repositories WHERE name = @scope OR (name > @lo AND name < @hi) ORDER BY name",
    ),
    perRepo: db.prepare<[ScopeArgs], Totals & { rid: number }>(
      `SELECT d.rid, COUNT(*) AS blobs, COALESCE(SUM(b.size), 0) AS blob_bytes,
         COALESCE(SUM(CASE WHEN ${OTHER_REPO("o.repository_id <> d.rid")} THEN 0 ELSE b.size END), 0) AS freeable
       FROM (${PAIRS}) d JOIN blobs b ON b.digest = d.digest GROUP BY d.rid`,
    ),
    total: db.prepare<[ScopeArgs], Totals>(
      `SELECT COUNT(*) AS blobs, COALESCE(SUM(b.size), 0) AS blob_bytes,
         COALESCE(SUM(CASE WHEN ${OTHER_REPO(`o.repository_id NOT IN (${SCOPE})`)} THEN 0 ELSE b.size END), 0) AS freeable
       FROM (SELECT DISTINCT digest FROM (${PAIRS})) d JOIN blobs b ON b.digest = d.digest`,
    ),
    totalBytes: db.prepare<[ScopeArgs], { bytes: number }>(
      `SELECT COALESCE(SUM(b.size), 0) AS bytes FROM (SELECT DISTINCT digest FROM (${PAIRS})) d JOIN blobs b ON b.digest = d.digest`,
    ),
    manifestsPerRepo: db.prepare<[ScopeArgs], { rid: number; n: number; bytes: number }>(
      `SELECT repository_id AS rid, COUNT(*) AS n, SUM(size) AS bytes FROM manifests
       WHERE repository_id IN (${SCOPE}) GROUP BY repository_id`,
    ),
    manifestBytes: db.prepare<[ScopeArgs], { bytes: number }>(
      `SELECT COALESCE(SUM(size), 0) AS bytes FROM manifests WHERE repository_id IN (${SCOPE})`,
    ),
    inScope: db.prepare<[ScopeArgs & { digest: string }], { one: number }>(
      `SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM repository_blobs o WHERE o.digest = @digest AND o.repository_id IN (${SCOPE}))
         OR EXISTS (SELECT 1 FROM manifest_references o WHERE o.kind = 'blob' AND o.digest = @digest AND o.repository_id IN (${SCOPE}))`,
    ),
    blobs: db.prepare<[], { n: number; bytes: number }>(
      "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM blobs WHERE state = 'live'",
    ),
    unreferenced: db.prepare<[], { n: number; bytes: number }>(
      `SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM blobs b WHERE b.state = 'live'
         AND NOT EXISTS (SELECT 1 FROM repository_blobs o WHERE o.digest = b.digest)
         AND NOT EXISTS (SELECT 1 FROM manifest_references o WHERE o.kind = 'blob' AND o.digest = b.digest)`,
    ),
    manifests: db.prepare<[], { n: number; bytes: number }>("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM manifests"),
    sumRepo: db.prepare<[], { bytes: number }>(
      `SELECT COALESCE(SUM(b.size), 0) AS bytes FROM (
         SELECT repository_id, digest FROM repository_blobs
         UNION SELECT repository_id, digest FROM manifest_references WHERE kind = 'blob') d
       JOIN blobs b ON b.digest = d.digest`,
    ),
    namespaces: db.prepare<[], { ns: string; repositories: number; manifest_bytes: number }>(
      `WITH r AS (SELECT id, CASE WHEN instr(name, '/') > 0 THEN substr(name, 1, instr(name, '/') - 1) ELSE name END AS ns
                  FROM repositories)
       SELECT r.ns, COUNT(*) AS repositories,
         COALESCE(SUM((SELECT SUM(size) FROM manifests m WHERE m.repository_id = r.id)), 0) AS manifest_bytes
       FROM r GROUP BY r.ns ORDER BY r.ns`,
    ),
    namespaceBlobs: db.prepare<[], { ns: string; bytes: number }>(
      `WITH r AS (SELECT id, CASE WHEN instr(name, '/') > 0 THEN substr(name, 1, instr(name, '/') - 1) ELSE name END AS ns
                  FROM repositories),
       d AS (SELECT r.ns, rb.digest FROM repository_blobs rb JOIN r ON r.id = rb.repository_id
             UNION SELECT r.ns, mr.digest FROM manifest_references mr JOIN r ON r.id = mr.repository_id WHERE mr.kind = 'blob')
       SELECT d.ns, SUM(b.size) AS bytes FROM d JOIN blobs b ON b.digest = d.digest GROUP BY d.ns`,
    ),
  };

  // One read transaction per report, so its numbers come from one snapshot.
  const scopeUsage = db.transaction((scope: string) => {
    const args = scopeArgs(scope);
    const perRepo = new Map(q.perRepo.all(args).map((r) => [r.rid, r]));
    const manifests = new Map(q.manifestsPerRepo.all(args).map((r) => [r.rid, r]));
    const repositories = q.repos.all(args).map((r) => ({ name: r.name, ...numbers(perRepo.get(r.id), manifests.get(r.id)) }));
    const total = numbers(q.total.get(args), {
      n: repositories.reduce((n, r) => n + r.manifests, 0),
      bytes: repositories.reduce((n, r) => n + r.manifestBytes, 0),
    });
    return { scope, total, repositories };
  });

  const scopeBytes = db.transaction((scope: string, exact: boolean) => {
    const args = scopeArgs(scope, exact);
    return q.totalBytes.get(args)!.bytes + q.manifestBytes.get(args)!.bytes;
  });

  const registryUsage = db.transaction((): RegistryUsageRows => {
    return toRegistryUsage({
      blobs: q.blobs.get()!,
      unreferenced: q.unreferenced.get()!,
      manifests: q.manifests.get()!,
      sumRepositoryBlobBytes: q.sumRepo.get()!.bytes,
      namespaces: q.namespaces.all(),
      namespaceBlobBytes: q.namespaceBlobs.all(),
    });
  });

  // Kept by triggers (migration 5): one row, whatever the registry's size.
  const totals = db.prepare<[], StorageTotals>(
    `SELECT blobs, blob_bytes AS blobBytes, manifests, manifest_bytes AS manifestBytes, repositories, tags FROM storage_totals`,
  );

  return {
    async storageTotals() {
      return totals.get()!;
    },
    async scopeUsage(scope) {
      return scopeUsage.deferred(scope);
    },
    async scopeBytes(scope, options) {
      return scopeBytes.deferred(scope, options?.exact ?? false);
    },
    async blobsInScope(scope, digests, options) {
      const args = scopeArgs(scope, options?.exact);
      return [...new Set(digests)].filter((digest) => q.inScope.get({ ...args, digest }) !== undefined);
    },
    async registryUsage() {
      return registryUsage.deferred();
    },
  };
}
