/**
 * `npm run bench:load`: the issue-15 storm against Berth and then CNCF distribution 2.8, same
 * shape, one after the other; results to bench/results/load-latest.md.
 *
 *   --quick               200 connections, 20 s, shutdown timeout 10 s
 *   --connections N       total connections (50 % idle, 15 % slow senders, 5 % slow readers, 10 % pushers, rest pullers)
 *   --duration S          storm seconds
 *   --idle/--slow-headers/--slow-bodies/--slow-readers/--pushers/--pullers N   override one kind
 *   --shutdown-timeout S  both servers' shutdown timeout (default 30)
 *   --only berth|distribution
 *   --backend s3-postgres Berth on S3 + PostgreSQL, distribution's s3 driver on the same engine
 *                         (run under scripts/test-with-services.sh, which starts Ceph radosgw and
 *                         PostgreSQL); results to bench/results/load-s3-postgres-latest.md
 *   --deploy              the deploy storm instead (bench/load/deploy.ts): 100 clients pull one
 *                         512 MiB image at once from each server, two rounds in rotated order;
 *                         --quick 20 clients × 32 MiB; --clients N, --rounds N, --verify-every N;
 *                         results to bench/results/deploy-latest.md
 *
 * The full storm holds ~2,000 client sockets plus as many on the server side; the default soft
 * `ulimit -n` here is 20,000. Where it is 1,024, raise it in the shell first (`ulimit -n 8192`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { DEPLOY_FULL, DEPLOY_QUICK, renderDeployReport, runDeploy, type DeployResult } from "./load/deploy.js";
import { pushDeployImage } from "./load/deploy-image.js";
import { renderReport } from "./load/report.js";
import { createShape, FULL, QUICK, type StormShape } from "./load/shape.js";
import { runStorm, type StormResult } from "./load/storm.js";
import { startBerthTarget, startDistributionTarget } from "./load/targets.js";
import { startBerthS3Target, startDistributionS3Target } from "./load/targets-s3.js";
import { startBerthServer, startDistribution } from "./servers.js";

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (name: string) => (flag(name) === undefined ? undefined : Number(flag(name)));
const quick = args.includes("--quick");
const preset = quick ? QUICK : FULL;
const overrides: Partial<StormShape> = {};
for (const [f, key] of [["idle", "idle"], ["slow-headers", "slowHeaders"], ["slow-bodies", "slowBodies"], ["slow-readers", "slowReaders"], ["pushers", "pushers"], ["pullers", "pullers"]] as const) {
  if (num(f) !== undefined) overrides[key] = num(f)!;
}
overrides.shutdownTimeoutMs = (num("shutdown-timeout") ?? (quick ? 10 : 30)) * 1000;
const shape = createShape(num("connections") ?? preset.connections, (num("duration") ?? preset.durationMs / 1000) * 1000, overrides);
const only = flag("only");
const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`);

const dir = fileURLToPath(new URL("../../bench/results/", import.meta.url));
await mkdir(dir, { recursive: true });

if (args.includes("--deploy")) {
  const base = quick ? DEPLOY_QUICK : DEPLOY_FULL;
  const shape = { ...base, clients: num("clients") ?? base.clients, verifyEvery: num("verify-every") ?? base.verifyEvery };
  const rounds = num("rounds") ?? 2;
  const seed = randomBytes(1024 * 1024);
  const servers = [await startBerthServer("berth", { BERTH_FSYNC: "false" }), await startDistribution()].filter((s) => !only || s.name === only);
  const results: DeployResult[] = [];
  try {
    let image;
    for (const s of servers) {
      const t0 = performance.now();
      image = await pushDeployImage(s.url, shape.layers, shape.layerBytes, seed);
      log(`${s.name} on ${s.url} (pid ${s.pid}): image pushed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? servers : [...servers].reverse();
      for (const s of order) {
        const r = await runDeploy(s, image!, shape, round);
        log(`${s.name} round ${round}: ${(r.bytes / 1e9).toFixed(1)} GB in ${r.seconds.toFixed(1)} s, ${r.errors.length} errors`);
        results.push(r);
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    const report = renderDeployReport(shape, image!, args.join(" "), results);
    console.log(`\n${report}`);
    await writeFile(`${dir}deploy-latest.md`, `${report}\n`);
    log("written to bench/results/deploy-latest.md");
  } finally {
    for (const s of servers) await s.stop();
  }
  process.exit(0);
}

const backend = flag("backend") ?? "embedded";
if (backend !== "embedded" && backend !== "s3-postgres") throw new Error(`--backend: embedded or s3-postgres, not ${backend}`);
const s3 = backend === "s3-postgres";
const results: StormResult[] = [];
for (const name of ["berth", "distribution"]) {
  if (only && only !== name) continue;
  const start = name === "berth" ? (s3 ? startBerthS3Target : startBerthTarget) : s3 ? startDistributionS3Target : startDistributionTarget;
  const target = await start(shape.shutdownTimeoutMs);
  log(`${name} on ${target.url} (pid ${target.pid})`);
  results.push(await runStorm(target, shape, log));
  await new Promise((r) => setTimeout(r, 2000));
}
const report = renderReport(shape, args.join(" "), results, s3 ? "S3 + PostgreSQL: Berth on a bucket of Ceph radosgw and its own PostgreSQL database, distribution's s3 driver on another bucket of the same Ceph" : undefined);
console.log(`\n${report}`);
const file = s3 ? "load-s3-postgres-latest.md" : "load-latest.md";
await writeFile(`${dir}${file}`, `${report}\n`);
log(`written to bench/results/${file}`);
