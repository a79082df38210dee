import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scaleOutEnv, spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { s3TestClient } from "../helpers/services.js";

/** Real `berth serve` processes for a soak, and a way to see what their blob storage holds. */
export interface SoakTarget {
  nodes: BerthProcess[];
  /** The embedded backend's data directory. */
  data?: string;
  /** Digests of every blob in storage. */
  storedBlobs(): Promise<Set<string>>;
  /** Upload ids with staged bytes. */
  stagedUploads(): Promise<string[]>;
  stop(): Promise<void>;
}

export type SoakBackend = "embedded" | "s3-postgres";

export async function startSoakTarget(backend: SoakBackend, graceMs: number, env: Record<string, string> = {}): Promise<SoakTarget> {
  const gcEnv = { BERTH_GC_GRACE: `${graceMs / 1000}s`, BERTH_GC_SCHEDULE: "2s", BERTH_GC_DELETE_UNTAGGED: "true", BERTH_LOG_LEVEL: "warn", ...env };
  if (backend === "embedded") {
    const data = await mkdtemp(join(tmpdir(), "berth-soak-"));
    const node = await spawnBerth(data, gcEnv);
    return {
      nodes: [node],
      data,
      async storedBlobs() {
        const found = new Set<string>();
        const root = join(data, "blobs", "sha256");
        for (const dir of await readdir(root).catch(() => [])) {
          for (const hex of await readdir(join(root, dir))) found.add(`sha256:${hex}`);
        }
        return found;
      },
      stagedUploads: () => readdir(join(data, "uploads")),
      async stop() {
        await node.stop();
        await rm(data, { recursive: true, force: true });
      },
    };
  }
  const backendEnv = await scaleOutEnv();
  const client = await s3TestClient();
  const bucket = backendEnv.env.BERTH_S3_BUCKET!;
  const keys = async (prefix: string) => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) out.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  };
  const dirs = await Promise.all([0, 1, 2].map(() => mkdtemp(join(tmpdir(), "berth-soak-node-"))));
  const nodes = await Promise.all(dirs.map((dir) => spawnBerth(dir, { ...backendEnv.env, ...gcEnv })));
  return {
    nodes,
    async storedBlobs() {
      return new Set((await keys("blobs/sha256/")).map((k) => `sha256:${k.split("/").pop()}`));
    },
    async stagedUploads() {
      return [...new Set((await keys("uploads/")).map((k) => k.split("/")[1]!))];
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      client.destroy();
      await backendEnv.cleanup();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}
