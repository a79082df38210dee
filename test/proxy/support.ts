import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRegistryClient, type RegistryClient } from "../../src/client/registry-client.js";
import type { Digest } from "../../src/oci/digest.js";
import { digestOf } from "../../src/oci/digest.js";
import { MediaType } from "../../src/oci/media-types.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";

/** A Berth started with a `proxy` section and any `more` of the config file (written as an operator would). */
export async function startProxyBerth(proxy: unknown, env: Record<string, string> = {}, more: Record<string, unknown> = {}): Promise<TestBerth> {
  const dir = await mkdtemp(join(tmpdir(), "berth-proxy-config-"));
  const file = join(dir, "config.json");
  await writeFile(file, JSON.stringify({ ...more, proxy }));
  const berth = await startBerth({ BERTH_CONFIG: file, ...env });
  return {
    ...berth,
    async stop() {
      await berth.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PushedImage {
  digest: Digest;
  config: Digest;
  layers: { digest: Digest; bytes: Buffer }[];
  content: Buffer;
}

/** Pushes a one-platform OCI image of random layers with `client`; returns what a pull must give back. */
export async function pushImage(client: RegistryClient, repo: string, tag: string, layerSizes: number[] = [4096]): Promise<PushedImage> {
  const layers = layerSizes.map((size) => {
    const bytes = randomBytes(size);
    return { digest: digestOf(bytes), bytes };
  });
  const configBytes = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) } }));
  for (const layer of layers) await client.pushBlob(repo, layer.bytes);
  const config = await client.pushBlob(repo, configBytes);
  const content = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config, size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: l.digest, size: l.bytes.length })),
  }));
  const digest = await client.putManifest(repo, tag, content, MediaType.OciManifest);
  return { digest, config, layers, content };
}

/** Pushes a two-platform index (linux/amd64, linux/arm64) of one-layer images. */
export async function pushIndex(client: RegistryClient, repo: string, tag: string): Promise<{ digest: Digest; platforms: Record<string, PushedImage> }> {
  const platforms: Record<string, PushedImage> = {};
  for (const arch of ["amd64", "arm64"]) platforms[arch] = await pushImage(client, repo, `${tag}-${arch}`);
  const content = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: Object.entries(platforms).map(([architecture, image]) => ({
      mediaType: MediaType.OciManifest,
      digest: image.digest,
      size: image.content.length,
      platform: { architecture, os: "linux" },
    })),
  }));
  return { digest: await client.putManifest(repo, tag, content, MediaType.OciIndex), platforms };
}

export function clientOf(url: string): RegistryClient {
  return createRegistryClient({ url, timeoutMs: 10_000 });
}
