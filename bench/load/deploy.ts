/**
 * The deploy storm (`npm run bench:load -- --deploy`): every node of a cluster pulls the same new
 * image at once. `clients` pullers on two worker threads (one per core of this machine) start
 * together, each fetching the manifest and then the config and layers three at a time; one
 * client in `verifyEvery` hashes what it got against the digests, the others check sizes.
 */
import { cpus, totalmem } from "node:os";
import { Worker } from "node:worker_threads";
import { cpuSeconds } from "../servers.js";
import type { ClientResult } from "./deploy-worker.js";
import type { DeployImage } from "./deploy-image.js";
import { createMemorySampler, procMemory } from "./proc.js";

/** How one deploy storm is shaped. */
export interface DeployShape {
  clients: number;
  layers: number;
  layerBytes: number;
  /** Every n-th client verifies sha256 (1: all). */
  verifyEvery: number;
  threads: number;
  /** A request with no byte for this long fails. */
  timeoutMs: number;
}

export const DEPLOY_FULL: DeployShape = { clients: 100, layers: 4, layerBytes: 128 * 1024 * 1024, verifyEvery: 10, threads: 2, timeoutMs: 120_000 };
export const DEPLOY_QUICK: DeployShape = { ...DEPLOY_FULL, clients: 20, layers: 2, layerBytes: 16 * 1024 * 1024, verifyEvery: 5 };

/** What one server did under one deploy storm. */
export interface DeployResult {
  server: string;
  round: number;
  seconds: number;
  bytes: number;
  clientMs: number[];
  verified: number;
  errors: string[];
  rssStart: number;
  rssPeak: number;
  cpuSeconds: number;
}

export async function runDeploy(target: { name: string; url: string; pid: number }, image: DeployImage, shape: DeployShape, round: number): Promise<DeployResult> {
  const ids = Array.from({ length: shape.clients }, (_, i) => i);
  const verify = ids.filter((i) => i % shape.verifyEvery === 0);
  const workers = Array.from({ length: shape.threads }, (_, w) => {
    const clients = ids.filter((i) => i % shape.threads === w);
    return new Worker(new URL("./deploy-worker.js", import.meta.url), {
      workerData: { url: target.url, repo: image.repo, tag: image.tag, clients, verify, timeoutMs: shape.timeoutMs },
    });
  });
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once("message", resolve))));
  const rssStart = procMemory(target.pid).rss;
  // VmHWM still holds the push's peak: sample RSS during the pulls instead.
  const sampler = createMemorySampler(target.pid, 100);
  const cpu0 = cpuSeconds(target.pid);
  const started = performance.now();
  const done = workers.map((w) => new Promise<ClientResult[]>((resolve, reject) => w.once("message", resolve).once("error", reject)));
  for (const w of workers) w.postMessage("go");
  const results = (await Promise.all(done)).flat();
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(target.pid) - cpu0;
  const peak = sampler.stop();
  await Promise.all(workers.map((w) => w.terminate()));
  return {
    server: target.name,
    round,
    seconds,
    bytes: results.reduce((n, r) => n + r.bytes, 0),
    clientMs: results.filter((r) => !r.error).map((r) => r.ms).sort((a, b) => a - b),
    verified: results.filter((r) => r.verified).length,
    errors: results.filter((r) => r.error).map((r) => `client ${r.client}: ${r.error}`),
    rssStart,
    rssPeak: peak.rss,
    cpuSeconds: cpu,
  };
}

const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

export function renderDeployReport(shape: DeployShape, image: DeployImage, flags: string, results: DeployResult[]): string {
  const cell = (r: DeployResult) => {
    const p50 = pct(r.clientMs, 50);
    const max = r.clientMs[r.clientMs.length - 1];
    return [
      `${r.server} (round ${r.round})`,
      `${(r.bytes / 1e9 / r.seconds).toFixed(2)} GB/s`,
      `${r.seconds.toFixed(1)} s`,
      p50 === undefined ? "–" : `${(p50 / 1000).toFixed(1)} s`,
      max === undefined ? "–" : `${(max / 1000).toFixed(1)} s`,
      `${mib(r.rssStart)} → ${mib(r.rssPeak)}`,
      `${(r.cpuSeconds / (r.bytes / 1e9)).toFixed(2)} s`,
      `${r.verified}`,
      r.errors.length ? `${r.errors.length} (${r.errors[0]!.replace(/\|/g, "/").slice(0, 120)})` : "0",
    ];
  };
  return [
    "# Deploy storm (`npm run bench:load -- --deploy`)",
    "",
    `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}; clients and servers share the machine, otherwise idle.`,
    "",
    `Flags: \`${flags || "--deploy"}\`. ${shape.clients} clients pull one image at once (${shape.layers} × ${mib(shape.layerBytes)} layers + config, ${mib(image.totalBytes)}): manifest, then blobs three at a time, on ${shape.threads} client threads; ` +
      `every ${shape.verifyEvery === 1 ? "client" : `${shape.verifyEvery}th client`} verifies sha256, the others check sizes. Loopback only; both servers on the filesystem, fsync off.`,
    "",
    "| server (round) | aggregate throughput | all done in | client time p50 | slowest client | RSS before → peak during pulls | server CPU per GB | clients verified | errors |",
    "|---|---|---|---|---|---|---|---|---|",
    ...results.map((r) => `| ${cell(r).join(" | ")} |`),
  ].join("\n");
}
