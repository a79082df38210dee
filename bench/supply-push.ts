/**
 * What a push pays under `secrets: block`: two `berth serve` processes side by side (filesystem +
 * SQLite, fsync on as by default, SBOM generation off on both), one with no secrets policy, one
 * with `block` on every repository. Rounds alternate which side goes first.
 *
 * - small images: three small gzip layers each (a Python module, a config file, a binary), fresh
 *   content for every image, 16 pushes at a time over the registry client;
 * - a 512 MiB image: one fresh variant of the real-files layer per round, pushed with skopeo.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeImage, makeLayer, type TestImage } from "../test/helpers/fixtures.js";
import { cpuSeconds, startBerthServer, type Server } from "./servers.js";
import { findSkopeo, scratchRoot, skopeoEnv, skopeoPush } from "./skopeo.js";
import { writeVariantLayout, type BenchLayer } from "./supply-layers.js";
import { closeAgent, pushImage } from "./workloads.js";

export type Side = "off" | "block";

export interface PushResults {
  /** Seconds per round and side. */
  small: Record<Side, number[]>;
  smallCpu: Record<Side, number[]>;
  big: Record<Side, number[]>;
  bigCpu: Record<Side, number[]>;
  bigLayerBytes: number;
  skopeo?: string;
}

const PY = readFileSync("/usr/lib/python3.11/os.py", "latin1");

function smallImage(): TestImage {
  const id = randomUUID();
  const at = Math.floor(Math.random() * (PY.length - 8192));
  const binary = randomBytes(16 * 1024);
  binary[0] = 0;
  return makeImage({
    layers: [
      makeLayer({ "app/main.py": `# build ${id}\n${PY.slice(at, at + 8192)}` }),
      makeLayer({ "etc/app/app.conf": `[server]\nid = ${id}\nlisten = 0.0.0.0:8080\nworkers = 4\nlog_level = info\n` }),
      makeLayer({ "usr/local/bin/tool": binary }),
    ],
  });
}

async function pushSmall(url: string, images: TestImage[], parallel: number, round: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < images.length; i = next++) await pushImage(url, "bench/small", `r${round}-${i}`, images[i]!);
    }),
  );
  return (performance.now() - t0) / 1000;
}

export async function measurePushes(o: { rounds: number; images: number; bigRounds: number; cacheDir: string; real: BenchLayer; log: (s: string) => void }): Promise<PushResults> {
  const dir = await mkdtemp(join(o.cacheDir, "config-"));
  const config = join(dir, "block.json");
  await writeFile(config, JSON.stringify({ secrets: { policies: [{ repositories: ["**"], mode: "block" }] } }));
  const servers: Record<Side, Server> = {
    off: await startBerthServer("off", {}),
    block: await startBerthServer("block", { BERTH_CONFIG: config }),
  };
  const res: PushResults = { small: { off: [], block: [] }, smallCpu: { off: [], block: [] }, big: { off: [], block: [] }, bigCpu: { off: [], block: [] }, bigLayerBytes: 0 };
  const order = (round: number): Side[] => (round % 2 === 0 ? ["off", "block"] : ["block", "off"]);
  try {
    for (const side of order(0)) await pushSmall(servers[side].url, Array.from({ length: 32 }, smallImage), 16, 0); // warm-up
    for (let round = 1; round <= o.rounds; round++) {
      for (const side of order(round)) {
        const images = Array.from({ length: o.images }, smallImage);
        const cpu0 = cpuSeconds(servers[side].pid);
        const s = await pushSmall(servers[side].url, images, 16, round);
        res.small[side].push(s);
        res.smallCpu[side].push(((cpuSeconds(servers[side].pid) - cpu0) * 1000) / o.images);
        o.log(`small round ${round} ${side}: ${o.images} images in ${s.toFixed(2)} s (${(o.images / s).toFixed(0)}/s)`);
      }
    }
    const skopeo = findSkopeo();
    if ("skip" in skopeo) {
      o.log(`512 MiB pushes skipped: ${skopeo.skip}`);
      return res;
    }
    res.skopeo = skopeo.bin;
    const root = scratchRoot();
    const env = await skopeoEnv(root);
    try {
      for (let round = 1; round <= o.bigRounds; round++) {
        const layout = await mkdtemp(join(root, "bench-supply-image-"));
        try {
          const { layerBytes } = await writeVariantLayout(layout, o.real, join(o.cacheDir, "real.tar"));
          res.bigLayerBytes = layerBytes;
          for (const side of order(round)) {
            const image = { dir: layout, bytes: layerBytes, layerDigests: [], remove: async () => {} };
            const cpu0 = cpuSeconds(servers[side].pid);
            const s = await skopeoPush(skopeo.bin, env.env, image, servers[side].url, "bench/big", `r${round}`);
            res.big[side].push(s);
            res.bigCpu[side].push(cpuSeconds(servers[side].pid) - cpu0);
            o.log(`512 MiB round ${round} ${side}: ${s.toFixed(2)} s`);
          }
        } finally {
          await rm(layout, { recursive: true, force: true });
        }
      }
    } finally {
      await env.remove();
    }
  } finally {
    await Promise.all([servers.off.stop(), servers.block.stop()]);
    closeAgent();
    await rm(dir, { recursive: true, force: true });
  }
  return res;
}
