/**
 * The storm's servers on S3 + PostgreSQL (`--backend s3-postgres`, under
 * scripts/test-with-services.sh): Berth on its own bucket of the test Ceph radosgw and its own
 * PostgreSQL database, distribution 2.8's s3 driver on another bucket of the same Ceph.
 */
import { CreateBucketCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { rm } from "node:fs/promises";
import { deleteBucket, s3Settings, s3TestClient, uniqueBucket } from "../../test/helpers/services.js";
import { scaleOutEnv } from "../../test/helpers/berth.js";
import { distributionS3Driver, spawnDistribution } from "../servers.js";
import { countErrors, startBerthTarget, timeExit, type LoadTarget } from "./targets.js";

/** Berth on S3 + PostgreSQL; its upload sessions are the `uploads` rows of its database. */
export async function startBerthS3Target(shutdownTimeoutMs: number): Promise<LoadTarget> {
  const backend = await scaleOutEnv();
  const target = await startBerthTarget(shutdownTimeoutMs, backend.env);
  return {
    ...target,
    async uploadSessions() {
      const { default: pg } = await import("pg");
      const client = new pg.Client({ connectionString: backend.env.BERTH_DATABASE_URL });
      await client.connect();
      try {
        const rows = await client.query<{ repository: string; n: string }>("SELECT repository, count(*) AS n FROM uploads GROUP BY repository");
        return new Map(rows.rows.map((r) => [r.repository, Number(r.n)]));
      } finally {
        await client.end();
      }
    },
    async shutdown() {
      const result = await target.shutdown();
      await backend.cleanup();
      return result;
    },
  };
}

/** Upload sessions distribution keeps in a bucket: `.../repositories/<repo>/_uploads/<id>/...`, by repository. */
async function bucketSessions(bucket: string): Promise<Map<string, number>> {
  const client = await s3TestClient();
  const ids = new Map<string, Set<string>>();
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "docker/registry/v2/repositories/", ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const m = /^docker\/registry\/v2\/repositories\/(.+?)\/_uploads\/([^/]+)\//.exec(o.Key ?? "");
        if (!m) continue;
        if (!ids.has(m[1]!)) ids.set(m[1]!, new Set());
        ids.get(m[1]!)!.add(m[2]!);
      }
      token = page.NextContinuationToken;
    } while (token);
  } finally {
    client.destroy();
  }
  return new Map([...ids].map(([repo, set]) => [repo, set.size]));
}

/** distribution with its s3 driver on a fresh bucket of the test engine. */
export async function startDistributionS3Target(shutdownTimeoutMs: number): Promise<LoadTarget> {
  const s3 = s3Settings();
  if (!s3) throw new Error("--backend s3-postgres needs the test S3 engine: run under scripts/test-with-services.sh");
  const bucket = uniqueBucket("load-distribution");
  const client = await s3TestClient();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  const { child, url, dir, output } = await spawnDistribution({
    logLevel: "warn",
    log: ["  formatter: text"],
    driver: [...distributionS3Driver(bucket), "    rootdirectory: /"],
    // Blobs served through the registry, as Berth serves them: the storm measures the server.
    storage: ["  maintenance:", "    uploadpurging:", "      enabled: false", "  redirect:", "    disable: true"],
    http: [`  draintimeout: ${Math.ceil(shutdownTimeoutMs / 1000)}s`],
  });
  return {
    name: "distribution",
    url,
    pid: child.pid!,
    uploadSessions: () => bucketSessions(bucket),
    errorLogs: () => countErrors(output, (l) => /level=(error|fatal|panic)/.test(l)),
    async shutdown() {
      const result = await timeExit(child, shutdownTimeoutMs);
      await rm(dir, { recursive: true, force: true });
      await deleteBucket(bucket);
      return result;
    },
  };
}
