/**
 * Manifest GET latency under a signature policy in `enforce` against no policy: two in-process
 * Berths (filesystem + SQLite) hold the same cosign-signed image in `prod/app`; rounds of 2,000
 * GETs by tag alternate between them, sequentially and 8 at a time. With the verification cached,
 * an enforced pull costs two more metadata look-ups (the `.sig` tag and the referrers).
 *
 *   npx tsc -p . && node dist/bench/signature-pulls.js
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBerth, type TestBerth } from "../test/helpers/berth.js";
import { createCosignKeyPair } from "../test/helpers/cosign-keys.js";
import { makeImage } from "../test/helpers/fixtures.js";
import { clientOf, pushBlob, pushImage, pushManifest } from "../test/helpers/push.js";
import { cosignSign, cosignSignatureManifest, simpleSigningPayload } from "../test/helpers/signatures.js";

const GETS = 2_000;
const ROUNDS = 9;
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function get(berth: TestBerth, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${berth.url}${path}`, { agent, headers: { accept: "application/vnd.oci.image.manifest.v1+json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Wall ms and CPU µs (client and server: one process) of one round of GETS. */
async function round(berth: TestBerth, concurrency: number): Promise<{ ms: number; cpu: number }> {
  let next = 0;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < GETS) {
        const status = await get(berth, "/v2/prod/app/manifests/v1");
        if (status !== 200) throw new Error(`GET answered ${status}`);
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, cpu: used.user + used.system };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await mkdtemp(join(tmpdir(), "berth-bench-sig-"));
const keys = await createCosignKeyPair(join(dir, "keys"));
const config = join(dir, "berth.yaml");
await writeFile(config, JSON.stringify({ signatures: { policies: [{ repositories: ["prod/*"], mode: "enforce", cosignKeys: [keys.publicKeyPath] }] } }));
const plain = await startBerth();
const enforced = await startBerth(process.env.BENCH_AA ? {} : { BERTH_CONFIG: config });
try {
  const image = makeImage();
  const payload = simpleSigningPayload(image.manifestDigest);
  const sig = cosignSignatureManifest([{ payload, signature: cosignSign(keys.privateKey, payload) }]);
  for (const berth of [plain, enforced]) {
    const client = clientOf(berth.url);
    await pushImage(client, "prod/app", "v1", image);
    client.close();
    for (const blob of sig.blobs.values()) await pushBlob(berth.url, "prod/app", blob);
    await pushManifest(berth.url, "prod/app", `${image.manifestDigest.replace(":", "-")}.sig`, sig.artifact.content, sig.artifact.mediaType);
    await round(berth, 4); // warm-up: JIT, SQLite page cache, the verification cache
  }
  console.log(`| concurrency | no policy: ms, µs CPU per GET | enforce: ms, µs CPU per GET | wall ratio | CPU ratio |\n|---|---|---|---|---|`);
  for (const concurrency of [1, 8]) {
    const plainRounds: { ms: number; cpu: number }[] = [];
    const enforcedRounds: { ms: number; cpu: number }[] = [];
    // ABBA order, so load from elsewhere on the machine falls on both sides alike; medians of paired ratios.
    for (let r = 0; r < ROUNDS; r++) {
      const first = r % 2 === 0;
      const x = await round(first ? plain : enforced, concurrency);
      const y = await round(first ? enforced : plain, concurrency);
      plainRounds.push(first ? x : y);
      enforcedRounds.push(first ? y : x);
    }
    const wall = median(plainRounds.map((p, i) => enforcedRounds[i]!.ms / p.ms));
    const cpu = median(plainRounds.map((p, i) => enforcedRounds[i]!.cpu / p.cpu));
    const show = (rs: { ms: number; cpu: number }[]) => `${median(rs.map((r) => r.ms)).toFixed(0)}, ${(median(rs.map((r) => r.cpu)) / GETS).toFixed(0)}`;
    console.log(`| ${concurrency} | ${show(plainRounds)} | ${show(enforcedRounds)} | ${wall.toFixed(3)} | ${cpu.toFixed(3)} |`);
  }
} finally {
  agent.destroy();
  await plain.stop();
  await enforced.stop();
  await rm(dir, { recursive: true, force: true });
}
