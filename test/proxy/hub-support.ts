/**
 * Helpers for the pull-through cache tests against the upstream fixture (distribution 2.8 behind a
 * token server and a fault front, playing Docker Hub): a Berth proxying it as `docker.io`, and
 * readers of what a client sees (status, bytes and their digest, Cache-Status, OCI errors).
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MANIFEST_MEDIA_TYPES } from "../../src/oci/media-types.js";
import type { TestBerth } from "../helpers/berth.js";
import type { SeededImage, Upstream } from "../helpers/upstream.js";
import { startProxyBerth } from "./support.js";

export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(", ");

/** A proxying Berth and the spool directory it was given (so tests can see it empty). */
export interface HubProxy extends TestBerth {
  spoolDir: string;
}

/**
 * A Berth whose only upstream is `up` under the name `docker.io` (the default, with `settings`
 * merged over `{ name, url, default }`), its spool in a directory of its own; `more` is the rest of
 * its config file, `env` its BERTH_* settings.
 */
export async function startHubProxy(
  up: Pick<Upstream, "url">,
  settings: Record<string, unknown> = {},
  { env = {}, more = {} }: { env?: Record<string, string>; more?: Record<string, unknown> } = {},
): Promise<HubProxy> {
  const spoolDir = await mkdtemp(join(tmpdir(), "berth-spool-"));
  const berth = await startProxyBerth({ spoolDir, upstreams: [{ name: "docker.io", url: up.url, default: true, ...settings }] }, env, more);
  return {
    ...berth,
    spoolDir,
    async stop() {
      await berth.stop();
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
}

export async function get(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

export const manifestOf = (base: string, repo: string, ref: string, method = "GET") =>
  get(`${base}/v2/${repo}/manifests/${ref}`, { method, headers: { accept: MANIFEST_ACCEPT } });

/** The first OCI error of an error answer. */
export function firstError(answer: Answer): { code: string; message: string } {
  return (JSON.parse(answer.body.toString("utf8")) as { errors: { code: string; message: string }[] }).errors[0]!;
}

export const sha256 = (bytes: Buffer | Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** A body read to its end, or to the error that ended it early. */
export interface Drained {
  status: number;
  headers: Headers;
  bytes: number;
  digest: string;
  error?: Error;
}

/** GETs `url` and reads the body as it streams: a cut body shows as `error` and a short `bytes`. */
export async function drain(url: string, init: RequestInit = {}): Promise<Drained> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    return { status: 0, headers: new Headers(), bytes: 0, digest: "", error: err as Error };
  }
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  } catch (err) {
    return { status: res.status, headers: res.headers, bytes, digest: "", error: err as Error };
  }
  return { status: res.status, headers: res.headers, bytes, digest: `sha256:${hash.digest("hex")}` };
}

/** Every blob of a seeded image: its config, then its layers. */
export const blobsOf = (image: SeededImage) => [image.configDigest, ...image.layerDigests];

/** Pulls a manifest and all its blobs (in parallel) the way a client would; reports what each answer was. */
export async function pullAll(base: string, repo: string, ref: string): Promise<{ manifest: Answer; blobs: (Drained & { wanted: string })[] }> {
  const manifest = await manifestOf(base, repo, ref);
  if (manifest.status !== 200) return { manifest, blobs: [] };
  const parsed = JSON.parse(manifest.body.toString("utf8")) as { config: { digest: string }; layers: { digest: string }[] };
  const wanted = [parsed.config.digest, ...parsed.layers.map((l) => l.digest)];
  const blobs = await Promise.all(wanted.map(async (d) => ({ ...(await drain(`${base}/v2/${repo}/blobs/${d}`)), wanted: d })));
  return { manifest, blobs };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 50 ms until it returns true or `ms` pass; resolves whether it did. */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(50);
  }
}

export const isEmptyDir = async (dir: string) => (await readdir(dir)).length === 0;
