import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { silentLogger, type Logger } from "../../src/logger.js";
import { createBerth, type Berth } from "../../src/server.js";
import { createTestDatabase, deleteBucket, s3Settings, uniqueBucket } from "./services.js";

export const BERTH_BIN = fileURLToPath(new URL("../../../bin/berth.js", import.meta.url));

export interface TestBerth {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  data: string;
  /** The configuration it runs with, and the BERTH_* settings of its backend: a CLI or store opened with them reaches the same registry. */
  config: Config;
  env: Record<string, string>;
  berth: Berth;
  stop(): Promise<void>;
}

/**
 * Test servers generate no SBOMs unless a test asks (`BERTH_SBOMS: "true"`): an SBOM referrer per
 * pushed image would change the blob, manifest and event counts other suites assert.
 */
export const SBOMS_OFF: Record<string, string> = { BERTH_SBOMS: "false" };

/**
 * Where the stores of test servers live. `embedded` (the default) is filesystem + SQLite;
 * `s3-postgres` (BERTH_TEST_BACKEND=s3-postgres) puts each test server on its own bucket of the
 * test S3 engine and its own PostgreSQL database, so any HTTP suite can run on the scale-out setup.
 */
export async function backendEnv(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  if (process.env.BERTH_TEST_BACKEND !== "s3-postgres") return { env: {}, cleanup: async () => {} };
  return scaleOutEnv();
}

/** BERTH_* settings for a fresh bucket and a fresh database on the test engines, and their removal. */
export async function scaleOutEnv(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  const s3 = s3Settings();
  if (!s3 || !process.env.BERTH_TEST_DATABASE_URL) throw new Error("BERTH_TEST_BACKEND=s3-postgres needs the test S3 engine and PostgreSQL");
  const db = await createTestDatabase();
  const bucket = uniqueBucket();
  return {
    env: {
      BERTH_STORAGE_DRIVER: "s3",
      BERTH_S3_ENDPOINT: s3.endpoint,
      BERTH_S3_REGION: s3.region,
      BERTH_S3_BUCKET: bucket,
      BERTH_S3_ACCESS_KEY: s3.accessKey,
      BERTH_S3_SECRET_KEY: s3.secretKey,
      BERTH_S3_FORCE_PATH_STYLE: "true",
      BERTH_DATABASE_URL: db.url,
    },
    async cleanup() {
      await db.drop();
      await deleteBucket(bucket);
    },
  };
}

/**
 * An in-process Berth on a free loopback port with its own temporary data directory.
 * `env` takes BERTH_* settings exactly as an operator would set them; `logger` (silent unless
 * given) lets a test read what the server logs.
 */
export async function startBerth(env: Record<string, string> = {}, { logger = silentLogger }: { logger?: Logger } = {}): Promise<TestBerth> {
  const data = await mkdtemp(join(tmpdir(), "berth-test-"));
  const backend = await backendEnv();
  const config = loadConfig({
    env: { BERTH_DATA: data, BERTH_LISTEN: "127.0.0.1:0", BERTH_FSYNC: "false", ...SBOMS_OFF, ...backend.env, ...env },
  });
  const berth = await createBerth(config, logger);
  const address = await berth.start();
  const host = `127.0.0.1:${address.port}`;
  return {
    url: `http://${host}`,
    host,
    data,
    config,
    env: backend.env,
    berth,
    async stop() {
      await berth.stop();
      await backend.cleanup();
      await rm(data, { recursive: true, force: true });
    },
  };
}

export interface BerthProcess {
  url: string;
  host: string;
  child: ChildProcess;
  /** Every line the process wrote, stdout and stderr. */
  output: string[];
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill9(): Promise<void>;
}

/** The config file a BERTH_* environment describes, for `berth migrate --from/--to`. */
export function configFromEnv(env: Record<string, string | undefined>, data: string) {
  if (!env.BERTH_STORAGE_DRIVER) return { data };
  return {
    data,
    storage: {
      driver: "s3",
      s3: {
        bucket: env.BERTH_S3_BUCKET,
        endpoint: env.BERTH_S3_ENDPOINT,
        region: env.BERTH_S3_REGION,
        accessKey: env.BERTH_S3_ACCESS_KEY,
        secretKey: env.BERTH_S3_SECRET_KEY,
        forcePathStyle: true,
      },
    },
    database: { url: env.BERTH_DATABASE_URL },
  };
}

/** Runs `berth serve` as a real process (bin/berth.js) on a free port; resolves once it logged its address. */
export function spawnBerth(data: string, env: Record<string, string> = {}): Promise<BerthProcess> {
  return spawnServer([process.execPath, BERTH_BIN, "serve", "--listen", "127.0.0.1:0", "--data", data], { env: { ...SBOMS_OFF, ...process.env, ...env } });
}

/**
 * Runs a command line that starts a Berth server (an installed `berth`, a systemd unit's
 * ExecStart, `node bin/berth.js serve …`) and resolves once it logged the address it listens on;
 * rejects with its output if it exits first or takes over 30 s (and kills it then).
 */
export async function spawnServer(
  [program, ...args]: string[],
  { env = process.env, cwd }: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<BerthProcess> {
  const child = spawn(program!, args, { env, ...(cwd ? { cwd } : {}), stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL"); // never leave a half-started server behind
      reject(new Error(`berth did not start:\n${output.join("\n")}`));
    }, 30_000);
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        output.push(line);
        const match = /"listen":"(http:\/\/[^"]+)"/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      }
    };
    child.stdout!.on("data", onLine);
    child.stderr!.on("data", onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`berth exited with ${code}:\n${output.join("\n")}`));
    });
  });
  return {
    url,
    host: url.replace("http://", ""),
    child,
    output,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
    async kill9() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}
