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
import { parseSize } from "../src/config/units.js";
import { backendEnv, spawnBerth } from "../test/helpers/berth.js";

const CHUNK = 1024 * 1024;

/** `size` bytes built from one random MiB with a counter stamped in, so no two chunks are equal. */
function body(size: number): { stream: ReadableStream<Uint8Array>; digest: Promise<string> } {
  const base = randomBytes(CHUNK);
  const hash = createHash("sha256");
  let sent = 0;
  let resolveDigest!: (d: string) => void;
  const digest = new Promise<string>((r) => (resolveDigest = r));
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) {
        resolveDigest(`sha256:${hash.digest("hex")}`);
        controller.close();
        return;
      }
      const chunk = Buffer.from(base.subarray(0, Math.min(CHUNK, size - sent)));
      chunk.writeUInt32BE(sent / CHUNK, 0);
      hash.update(chunk);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { stream, digest };
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function measure(size: number) {
  const data = await mkdtemp(join(tmpdir(), "berth-mem-"));
  const backend = await backendEnv();
  const berth = await spawnBerth(data, { BERTH_LOG_LEVEL: "warn", ...backend.env });
  try {
    const pid = berth.child.pid!;
    const idle = await peakRss(pid);
    const start = await fetch(`${berth.url}/v2/mem/blob/blobs/uploads/`, { method: "POST" });
    const location = new URL(start.headers.get("location")!, berth.url);
    const { stream, digest } = body(size);
    const t0 = performance.now();
    const patch = await fetch(location, { method: "PATCH", body: stream, duplex: "half" } as RequestInit);
    if (patch.status !== 202) throw new Error(`PATCH ${patch.status}`);
    location.searchParams.set("digest", await digest);
    const put = await fetch(location, { method: "PUT" });
    if (put.status !== 201) throw new Error(`PUT ${put.status} ${await put.text()}`);
    const pushSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const res = await fetch(`${berth.url}/v2/mem/blob/blobs/${await digest}`);
    const check = createHash("sha256");
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) check.update(chunk);
    if (`sha256:${check.digest("hex")}` !== (await digest)) throw new Error("pulled bytes differ");
    const pullSeconds = (performance.now() - t1) / 1000;
    return { size, idle, peak: await peakRss(pid), pushSeconds, pullSeconds };
  } finally {
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
