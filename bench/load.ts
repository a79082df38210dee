/**
 * `npm run bench:load`: the issue-15 storm against Berth and then CNCF distribution 2.8, same
 * shape, one after the other; results to bench/results/load-latest.md.
 *
 *   --quick               200 connections, 20 s, shutdown timeout 10 s
 *   --connections N       total connections (split 50 % idle, 15 % slow, 10 % pushers, rest pullers)
 *   --duration S          storm seconds
 *   --idle/--slow-headers/--slow-bodies/--pushers/--pullers N   override one kind
 *   --shutdown-timeout S  both servers' shutdown timeout (default 30)
 *   --only berth|distribution
 *
 * The full storm holds ~2,000 client sockets plus as many on the server side; the default soft
 * `ulimit -n` here is 20,000. Where it is 1,024, raise it in the shell first (`ulimit -n 8192`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { renderReport } from "./load/report.js";
import { createShape, FULL, QUICK, type StormShape } from "./load/shape.js";
import { runStorm, type StormResult } from "./load/storm.js";
import { startBerthTarget, startDistributionTarget } from "./load/targets.js";

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (name: string) => (flag(name) === undefined ? undefined : Number(flag(name)));
const quick = args.includes("--quick");
const preset = quick ? QUICK : FULL;
const overrides: Partial<StormShape> = {};
for (const [f, key] of [["idle", "idle"], ["slow-headers", "slowHeaders"], ["slow-bodies", "slowBodies"], ["pushers", "pushers"], ["pullers", "pullers"]] as const) {
  if (num(f) !== undefined) overrides[key] = num(f)!;
}
overrides.shutdownTimeoutMs = (num("shutdown-timeout") ?? (quick ? 10 : 30)) * 1000;
const shape = createShape(num("connections") ?? preset.connections, (num("duration") ?? preset.durationMs / 1000) * 1000, overrides);
const only = flag("only");
const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`);

const results: StormResult[] = [];
for (const name of ["berth", "distribution"]) {
  if (only && only !== name) continue;
  const target = name === "berth" ? await startBerthTarget(shape.shutdownTimeoutMs) : await startDistributionTarget(shape.shutdownTimeoutMs);
  log(`${name} on ${target.url} (pid ${target.pid})`);
  results.push(await runStorm(target, shape, log));
  await new Promise((r) => setTimeout(r, 2000));
}
const report = renderReport(shape, args.join(" "), results);
console.log(`\n${report}`);
const dir = fileURLToPath(new URL("../../bench/results/", import.meta.url));
await mkdir(dir, { recursive: true });
await writeFile(`${dir}load-latest.md`, `${report}\n`);
log(`written to bench/results/load-latest.md`);
