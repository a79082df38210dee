/**
 * The servers of the side-by-side benchmark: the reference registry (CNCF distribution, Debian's
 * `docker-registry`) and Berth twice (fsync off, durable), each a real process on its own
 * temporary directory, plus CPU and memory sampling from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnBerth } from "../test/helpers/berth.js";
import { s3Settings } from "../test/helpers/services.js";
import { freePort } from "../test/helpers/tools.js";

export interface Server {
  /** Column label. */
  name: string;
  url: string;
  pid: number;
  /** The data directory (Berth only). */
  data?: string;
  stop(): Promise<void>;
}

const CLK_TCK = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime is field 14, stime field 15
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** User and system CPU seconds the process has used so far, apart. */
export function cpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
}

/** Peak resident set size (VmHWM) in bytes. */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

function findRegistryBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/bin").split(":").concat(["/usr/bin"])) {
    const p = join(dir, "docker-registry");
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The docker-registry binary, installed with apt-get when missing; exits with a message if impossible. */
export function registryBinary(): string {
  let bin = findRegistryBinary();
  if (bin) return bin;
  console.error("docker-registry not found; running `apt-get install -y docker-registry`");
  const r = spawnSync("apt-get", ["install", "-y", "docker-registry"], { stdio: "inherit" });
  bin = findRegistryBinary();
  if (r.status !== 0 || !bin) {
    console.error(
      "bench: the reference registry (CNCF distribution, Debian package `docker-registry`) is not installed " +
        "and `apt-get install -y docker-registry` failed; install it and run again.",
    );
    process.exit(2);
  }
  return bin;
}

async function waitReady(url: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}:\n${output.join("\n")}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`docker-registry did not answer GET /v2/ with 200 in 20 s:\n${output.join("\n")}`);
}

/** A running distribution process, as the benches drive it. */
export interface DistributionProcess {
  child: ChildProcess;
  url: string;
  /** Its temporary directory (config and storage root); the caller removes it. */
  dir: string;
  /** The storage root directory. */
  root: string;
  /** Its output so far, a line each. */
  output: string[];
  exited: Promise<void>;
}

/**
 * CNCF distribution on a free loopback port with a fresh filesystem root, answering `GET /v2/`.
 * `log`, `storage` and `http` are extra lines for those sections of its configuration; `driver`
 * replaces the filesystem driver's lines under `storage:` (e.g. an `  s3:` block).
 */
export async function spawnDistribution(options: {
  logLevel: string;
  log?: string[];
  storage?: string[];
  http?: string[];
  driver?: string[];
}): Promise<DistributionProcess> {
  const bin = registryBinary();
  const dir = await mkdtemp(join(tmpdir(), "bench-distribution-"));
  const port = await freePort();
  const root = join(dir, "data");
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log:",
      `  level: ${options.logLevel}`,
      ...(options.log ?? []),
      "  accesslog:",
      "    disabled: true",
      "storage:",
      ...(options.driver ?? ["  filesystem:", `    rootdirectory: ${root}`]),
      "  delete:",
      "    enabled: true",
      ...(options.storage ?? []),
      "http:",
      `  addr: 127.0.0.1:${port}`,
      ...(options.http ?? []),
      "",
    ].join("\n"),
  );
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  const child = spawn(bin, ["serve", config], { env, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  const onData = (b: Buffer) => output.push(...b.toString().split("\n").filter(Boolean));
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, child, output);
  return { child, url, dir, root, output, exited };
}

/** CNCF distribution on a free loopback port with a fresh filesystem root. */
export async function startDistribution(): Promise<Server> {
  const { child, url, dir, exited } = await spawnDistribution({ logLevel: "error" });
  return {
    name: "distribution",
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `berth serve` on a free loopback port with a fresh data directory. */
export async function startBerthServer(name: string, env: Record<string, string>): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), "bench-berth-"));
  const berth = await spawnBerth(dir, { BERTH_LOG_LEVEL: "warn", ...env });
  const pid = berth.child.pid!;
  return {
    name,
    url: berth.url,
    pid,
    data: dir,
    async stop() {
      if (berth.child.exitCode === null && berth.child.signalCode === null) {
        const timer = setTimeout(() => berth.child.kill("SIGKILL"), 5000);
        await berth.stop();
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `dd ... conv=fdatasync` in `dir`: the disk's fsync'd sequential write speed, as dd prints it. */
export async function ddSpeed(dir: string): Promise<string> {
  const file = join(dir, "ddtest");
  const r = spawnSync("dd", ["if=/dev/zero", `of=${file}`, "bs=1M", "count=512", "conv=fdatasync"], { encoding: "utf8" });
  await rm(file, { force: true });
  const m = /,\s*([\d.,]+\s*[kMG]B\/s)\s*$/m.exec(r.stderr ?? "");
  return m ? m[1]!.replace(",", ".") : `unknown (dd: ${(r.stderr ?? "").trim().split("\n").pop()})`;
}

/** The `driver:` lines of distribution's s3 driver on `bucket` of the test S3 engine (BERTH_TEST_S3_*). */
export function distributionS3Driver(bucket: string): string[] {
  const s3 = s3Settings();
  if (!s3) throw new Error("distribution on S3 needs the test S3 engine: run under scripts/test-with-services.sh");
  return [
    "  s3:",
    `    accesskey: ${s3.accessKey}`,
    `    secretkey: ${s3.secretKey}`,
    `    region: ${s3.region}`,
    `    regionendpoint: ${s3.endpoint}`,
    `    bucket: ${bucket}`,
    `    secure: ${new URL(s3.endpoint).protocol === "https:"}`,
    "    v4auth: true",
  ];
}
