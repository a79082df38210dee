/**
 * Memory stays flat whatever the blob size: pushes and pulls one blob of each size through a
 * fresh `berth serve` process and reports that process's peak RSS (VmHWM).
 *
 *   npm run build && node dist/bench/memory.js [sizes...]     e.g. 5MiB 1GiB 5GiB
 *
 * With BERTH_TEST_BACKEND=s3-postgres (and the BERTH_TEST_S3_* / BERTH_TEST_DATABASE_URL settings
 * of the test engines) the server runs on S3 + PostgreSQL instead of the embedded default.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createRegistryClient } from "../src/client/registry-client.js";
import { parseSize } from "../src/config/units.js";
import { backendEnv, spawnBerth } from "../test/helpers/berth.js";
import { checkBenchArgs } from "./args.js";

checkBenchArgs("node dist/bench/memory.js [SIZE...]   e.g. 5MiB 1GiB 5GiB (after npm run build)", {}, { positionals: true });

const CHUNK = 1024 * 1024;

/** `size` bytes built from one random MiB with a counter stamped in, so no two chunks are equal. */
function body(size: number): Readable {
  const base = randomBytes(CHUNK);
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < size; sent += CHUNK) {
        const chunk = Buffer.from(base.subarray(0, Math.min(CHUNK, size - sent)));
        chunk.writeUInt32BE(sent / CHUNK, 0);
        yield chunk;
      }
    })(),
  );
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function measure(size: number) {
  const data = await mkdtemp(join(tmpdir(), "berth-mem-"));
  const backend = await backendEnv();
  const berth = await spawnBerth(data, { BERTH_LOG_LEVEL: "warn", ...backend.env });
  const client = createRegistryClient({ url: berth.url, timeoutMs: 120_000, userAgent: "berth-bench" });
  try {
    const pid = berth.child.pid!;
    const idle = await peakRss(pid);
    const t0 = performance.now();
    // No size, no digest: one streamed PATCH of unknown length, hashed on the way, then the PUT.
    const digest = await client.pushBlob("mem/blob", { open: () => body(size) });
    const pushSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const pulled = await client.blob("mem/blob", digest);
    if (!pulled) throw new Error(`GET blob ${digest}: 404`);
    const check = createHash("sha256");
    for await (const chunk of pulled.stream as AsyncIterable<Buffer>) check.update(chunk);
    if (`sha256:${check.digest("hex")}` !== digest) throw new Error("pulled bytes differ");
    const pullSeconds = (performance.now() - t1) / 1000;
    return { size, idle, peak: await peakRss(pid), pushSeconds, pullSeconds };
  } finally {
    client.close();
    await berth.stop();
    await backend.cleanup();
    await rm(data, { recursive: true, force: true });
  }
}

const mib = (n: number) => `${(n / CHUNK).toFixed(0)} MiB`;
const sizes = (process.argv.slice(2).length ? process.argv.slice(2) : ["5MiB", "512MiB", "2GiB"]).map((s) => parseSize(s)!);
console.log("| blob | peak RSS idle | peak RSS after push+pull | push MB/s | pull MB/s |");
console.log("|---|---|---|---|---|");
for (const size of sizes) {
  const r = await measure(size);
  console.log(
    `| ${mib(r.size)} | ${mib(r.idle)} | ${mib(r.peak)} | ${(r.size / 1e6 / r.pushSeconds).toFixed(0)} | ${(r.size / 1e6 / r.pullSeconds).toFixed(0)} |`,
  );
}
