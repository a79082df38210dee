/**
 * The deploy storm's image: `layers` layers of `layerBytes` each, made from one random MiB with a
 * counter stamped into every MiB (no two MiBs alike, nothing held in memory), pushed by a streamed
 * monolithic PUT per layer, then a config and the manifest.
 */
import { createHash, randomBytes } from "node:crypto";
import { request } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createAgent, MANIFEST_TYPE, pushMonolithic, send } from "./http-client.js";

const MIB = 1024 * 1024;

/** What clients pull: the manifest's reference and what it lists. */
export interface DeployImage {
  repo: string;
  tag: string;
  layers: { digest: string; size: number }[];
  totalBytes: number;
}

function layerChunks(seed: Buffer, index: number, size: number): Generator<Buffer> {
  return (function* () {
    for (let at = 0; at < size; at += MIB) {
      const chunk = Buffer.from(seed.subarray(0, Math.min(MIB, size - at)));
      chunk.writeUInt32BE(index, 0);
      chunk.writeUInt32BE(at / MIB, 4);
      yield chunk;
    }
  })();
}

async function putStream(url: string, size: number, body: () => Iterable<Buffer>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      { method: "PUT", host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers: { "content-type": "application/octet-stream", "content-length": String(size) } },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`PUT layer: ${res.statusCode}`))));
      },
    );
    req.on("error", reject);
    pipeline(Readable.from(body()), req).catch(reject);
  });
}

/** Pushes the image to `base` (the same bytes on every server, given the same `seed`). */
export async function pushDeployImage(base: string, layerCount: number, layerBytes: number, seed: Buffer = randomBytes(MIB)): Promise<DeployImage> {
  const repo = "deploy/app";
  const agent = createAgent(2);
  const layers: DeployImage["layers"] = [];
  for (let i = 0; i < layerCount; i++) {
    const hash = createHash("sha256");
    for (const chunk of layerChunks(seed, i, layerBytes)) hash.update(chunk);
    const digest = `sha256:${hash.digest("hex")}`;
    const post = await send(agent, "POST", `${base}/v2/${repo}/blobs/uploads/`, { timeoutMs: 60_000, expect: [202] });
    const put = new URL(String(post.headers.location), base);
    put.searchParams.set("digest", digest);
    await putStream(put.toString(), layerBytes, () => layerChunks(seed, i, layerBytes));
    layers.push({ digest, size: layerBytes });
  }
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) } }));
  const configDigest = await pushMonolithic(agent, base, repo, config, 60_000);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", ...l })),
    }),
  );
  await send(agent, "PUT", `${base}/v2/${repo}/manifests/v1`, { body: manifest, headers: { "content-type": MANIFEST_TYPE }, timeoutMs: 60_000, expect: [201] });
  agent.destroy();
  return { repo, tag: "v1", layers, totalBytes: layers.reduce((n, l) => n + l.size, 0) + config.length };
}
