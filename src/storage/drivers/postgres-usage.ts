import type pg from "pg";
import type { Digest } from "../../oci/digest.js";
import type { RegistryUsageRows, StorageTotals, UsageStore } from "../usage-store.js";
import { numbers, toRegistryUsage, type Totals } from "./usage-rows.js";
import { transaction } from "./postgres-tx.js";

/**
 * The repositories of a scope (`$1` the name, `$2` name + "/", `$3` name + "0"): the name itself and
 * every name in ["name/", "name0"), exactly the names under "name/" since names are COLLATE "C"
 * (byte order, "0" right after "/"). Both are ranges on the unique name index.
 */
const SCOPE = "SELECT id FROM repositories WHERE name = $1 OR (name > $2 AND name < $3)";

/** (repository, blob) pairs of the scope: links and manifest references, each pair once. */
const PAIRS = `SELECT repository_id AS rid, digest FROM repository_blobs WHERE repository_id IN (${SCOPE})
  UNION SELECT repository_id AS rid, digest FROM manifest_references WHERE kind = 'blob' AND repository_id IN (${SCOPE})`;

/** Whether a repository matching `outside` references `d.digest`. */
const OTHER_REPO = (outside: string) => `(EXISTS (SELECT 1 FROM repository_blobs o WHERE o.digest = d.digest AND ${outside})
  OR EXISTS (SELECT 1 FROM manifest_references o WHERE o.kind = 'blob' AND o.digest = d.digest AND ${outside}))`;

const NAMESPACE = "split_part(name, '/', 1)";

/** With `exact` the range is empty ("x/" < name < "x/" holds for no name): the repository alone. */
const scopeArgs = (scope: string, exact = false) => [scope, `${scope}/`, exact ? `${scope}/` : `${scope}0`];

/** Runs `fn` in one read-only snapshot, so a report's numbers agree with each other. */
function snapshot<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return transaction(pool, async (client) => {
    await client.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    return fn(client);
  });
}

/** The UsageStore half of the PostgreSQL metadata store: read-only queries over the metadata tables. */
export function createPostgresUsage(pool: pg.Pool): UsageStore {
  return {
    async storageTotals() {
      const { rows } = await pool.query<StorageTotals>(
        `SELECT b.n AS "blobs", b.bytes AS "blobBytes", m.n AS "manifests", m.bytes AS "manifestBytes",
           (SELECT COUNT(*) FROM repositories) AS "repositories", (SELECT COUNT(*) FROM tags) AS "tags"
         FROM (SELECT COUNT(*) AS n, COALESCE(SUM(size), 0)::bigint AS bytes FROM blobs WHERE state = 'live') b,
              (SELECT COUNT(*) AS n, COALESCE(SUM(size), 0)::bigint AS bytes FROM manifests) m`,
      );
      return rows[0]!;
    },
    async scopeUsage(scope) {
      const args = scopeArgs(scope);
      return snapshot(pool, async (client) => {
        const perRepo = await client.query<Totals & { rid: number }>(
          `SELECT d.rid, COUNT(*) AS blobs, COALESCE(SUM(b.size), 0)::bigint AS blob_bytes,
             COALESCE(SUM(CASE WHEN ${OTHER_REPO("o.repository_id <> d.rid")} THEN 0 ELSE b.size END), 0)::bigint AS freeable
           FROM (${PAIRS}) d JOIN blobs b ON b.digest = d.digest GROUP BY d.rid`,
          args,
        );
        const manifests = await client.query<{ rid: number; n: number; bytes: number }>(
          `SELECT repository_id AS rid, COUNT(*) AS n, SUM(size)::bigint AS bytes FROM manifests
           WHERE repository_id IN (${SCOPE}) GROUP BY repository_id`,
          args,
        );
        const repos = await client.query<{ id: number; name: string }>(`SELECT id, name FROM repositories WHERE id IN (${SCOPE}) ORDER BY name`, args);
        const total = await client.query<Totals>(
          `SELECT COUNT(*) AS blobs, COALESCE(SUM(b.size), 0)::bigint AS blob_bytes,
             COALESCE(SUM(CASE WHEN ${OTHER_REPO(`o.repository_id NOT IN (${SCOPE})`)} THEN 0 ELSE b.size END), 0)::bigint AS freeable
           FROM (SELECT DISTINCT digest FROM (${PAIRS}) p) d JOIN blobs b ON b.digest = d.digest`,
          args,
        );
        const blobsOf = new Map(perRepo.rows.map((r) => [r.rid, r]));
        const manifestsOf = new Map(manifests.rows.map((r) => [r.rid, r]));
        const repositories = repos.rows.map((r) => ({ name: r.name, ...numbers(blobsOf.get(r.id), manifestsOf.get(r.id)) }));
        return {
          scope,
          total: numbers(total.rows[0], {
            n: repositories.reduce((n, r) => n + r.manifests, 0),
            bytes: repositories.reduce((n, r) => n + r.manifestBytes, 0),
          }),
          repositories,
        };
      });
    },

    async scopeBytes(scope, options) {
      const { rows } = await pool.query<{ bytes: number }>(
        `SELECT (COALESCE((SELECT SUM(b.size) FROM (SELECT DISTINCT digest FROM (${PAIRS}) p) d JOIN blobs b ON b.digest = d.digest), 0)
           + COALESCE((SELECT SUM(size) FROM manifests WHERE repository_id IN (${SCOPE})), 0))::bigint AS bytes`,
        scopeArgs(scope, options?.exact),
      );
      return rows[0]!.bytes;
    },

    async blobsInScope(scope, digests, options) {
      if (digests.length === 0) return [];
      const { rows } = await pool.query<{ digest: Digest }>(
        `SELECT d.digest FROM unnest($4::text[]) AS d(digest)
         WHERE EXISTS (SELECT 1 FROM repository_blobs o WHERE o.digest = d.digest AND o.repository_id IN (${SCOPE}))
            OR EXISTS (SELECT 1 FROM manifest_references o WHERE o.kind = 'blob' AND o.digest = d.digest
                       AND o.repository_id IN (${SCOPE}))`,
        [...scopeArgs(scope, options?.exact), [...new Set(digests)]],
      );
      return rows.map((r) => r.digest);
    },

    async registryUsage() {
      return snapshot(pool, async (client): Promise<RegistryUsageRows> => {
        const one = async (text: string) => (await client.query<{ n: number; bytes: number }>(text)).rows[0]!;
        const blobs = await one("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0)::bigint AS bytes FROM blobs WHERE state = 'live'");
        const unreferenced = await one(
          `SELECT COUNT(*) AS n, COALESCE(SUM(size), 0)::bigint AS bytes FROM blobs b WHERE b.state = 'live'
             AND NOT EXISTS (SELECT 1 FROM repository_blobs o WHERE o.digest = b.digest)
             AND NOT EXISTS (SELECT 1 FROM manifest_references o WHERE o.kind = 'blob' AND o.digest = b.digest)`,
        );
        const manifests = await one("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0)::bigint AS bytes FROM manifests");
        const sumRepo = await one(
          `SELECT 0 AS n, COALESCE(SUM(b.size), 0)::bigint AS bytes FROM (
             SELECT repository_id, digest FROM repository_blobs
             UNION SELECT repository_id, digest FROM manifest_references WHERE kind = 'blob') d
           JOIN blobs b ON b.digest = d.digest`,
        );
        const ns = await client.query<{ ns: string; repositories: number; manifest_bytes: number }>(
          `SELECT ${NAMESPACE} AS ns, COUNT(*) AS repositories,
             COALESCE(SUM((SELECT SUM(size) FROM manifests m WHERE m.repository_id = r.id)), 0)::bigint AS manifest_bytes
           FROM repositories r GROUP BY 1 ORDER BY 1`,
        );
        const nsBlobs = await client.query<{ ns: string; bytes: number }>(
          `WITH r AS (SELECT id, ${NAMESPACE} AS ns FROM repositories),
           d AS (SELECT r.ns, rb.digest FROM repository_blobs rb JOIN r ON r.id = rb.repository_id
                 UNION SELECT r.ns, mr.digest FROM manifest_references mr JOIN r ON r.id = mr.repository_id WHERE mr.kind = 'blob')
           SELECT d.ns, SUM(b.size)::bigint AS bytes FROM d JOIN blobs b ON b.digest = d.digest GROUP BY d.ns`,
        );
        return toRegistryUsage({
          blobs,
          unreferenced,
          manifests,
          sumRepositoryBlobBytes: sumRepo.bytes,
          namespaces: ns.rows,
          namespaceBlobBytes: nsBlobs.rows,
        });
      });
    },
  };
}
