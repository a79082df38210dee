/**
 * Plumbing for the pull-through cache tests with real clients (proxy-*.test.ts): a `berth serve`
 * configured, through a config file as an operator would, with two upstreams from the upstream
 * fixture (a Docker Hub lookalike as `docker.io`, the default, and a second registry as `ghcr.io`),
 * plus the checks every suite makes of Berth's cache repositories and of what a client wrote.
 */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { sha256 } from "../helpers/fixtures.js";
import { startUpstream, type Upstream } from "../helpers/upstream.js";
import { MANIFEST_ACCEPT, requestLog, type LoggedRequest } from "./support.js";

/** A running Berth in front of two upstreams; stop() ends all three. */
export interface ProxySetup {
  berth: BerthProcess;
  /** The Docker Hub lookalike, configured as `docker.io` with `default: true`. */
  hub: Upstream;
  /** The second upstream, configured as `ghcr.io`. */
  ghcr: Upstream;
  /** Berth's data directory (for the `berth` CLI). */
  data: string;
  stop(): Promise<void>;
}

/** Starts both upstreams and `berth serve` with a `proxy` section naming them; `env` adds BERTH_* settings. */
export async function startProxySetup(root: string, env: Record<string, string> = {}): Promise<ProxySetup> {
  const hub = await startUpstream();
  let ghcr: Upstream | undefined;
  try {
    ghcr = await startUpstream({ service: "ghcr.io" });
    await mkdir(root, { recursive: true });
    const configFile = join(root, "berth.json");
    await writeFile(configFile, JSON.stringify({
      proxy: {
        upstreams: [
          // tagTtl long enough that a second pull within a test is served without asking the upstream
          { name: "docker.io", url: hub.url, default: true, tagTtl: "1h" },
          { name: "ghcr.io", url: ghcr.url, tagTtl: "1h" },
        ],
        spoolDir: join(root, "spool"),
      },
    }));
    const data = join(root, "data");
    const berth = await spawnBerth(data, { BERTH_CONFIG: configFile, ...env });
    const up = ghcr;
    return {
      berth,
      hub,
      ghcr: up,
      data,
      async stop() {
        await berth.stop();
        await up.stop();
        await hub.stop();
      },
    };
  } catch (err) {
    await ghcr?.stop();
    await hub.stop();
    throw err;
  }
}

/** What Berth answers for a manifest of a repository, read without going through any client. */
export interface ManifestProbe {
  status: number;
  digest: string | null;
  cacheStatus: string | null;
}

/** HEAD /v2/NAME/manifests/REF on Berth (`authorization` when access control is on). */
export async function probeManifest(url: string, name: string, reference: string, authorization?: string): Promise<ManifestProbe> {
  const res = await fetch(`${url}/v2/${name}/manifests/${reference}`, {
    method: "HEAD",
    headers: { Accept: MANIFEST_ACCEPT, ...(authorization ? { Authorization: authorization } : {}) },
  });
  return { status: res.status, digest: res.headers.get("docker-content-digest"), cacheStatus: res.headers.get("cache-status") };
}

/** Asserts that Berth's cache repository holds `name:reference` (a HEAD answered as a cache hit, with `digest`). */
export async function assertCached(url: string, name: string, reference: string, digest: string, authorization?: string): Promise<void> {
  const probe = await probeManifest(url, name, reference, authorization);
  assert.equal(probe.status, 200, `HEAD ${name}:${reference} on Berth`);
  assert.equal(probe.digest, digest, `${name}:${reference} in Berth's cache`);
  assert.match(probe.cacheStatus ?? "", /^Berth; hit/, `${name}:${reference} is a cache hit`);
}

/** A `skopeo copy … dir:` destination, read back: the manifest and every blob by digest. */
export interface DirImage {
  manifestDigest: string;
  manifest: { config: { digest: string }; layers: { digest: string }[] };
  /** Digests of the blob files, each checked against its content. */
  blobs: string[];
}

/** Reads a `dir:` copy and checks that every blob file's content matches its name. */
export async function readDirImage(dir: string): Promise<DirImage> {
  const raw = await readFile(join(dir, "manifest.json"));
  const blobs: string[] = [];
  for (const entry of await readdir(dir)) {
    if (!/^[0-9a-f]{64}$/.test(entry)) continue;
    const digest = `sha256:${entry}`;
    assert.equal(sha256(await readFile(join(dir, entry))), digest, `${dir}/${entry} holds what its name says`);
    blobs.push(digest);
  }
  return { manifestDigest: sha256(raw), manifest: JSON.parse(raw.toString("utf8")) as DirImage["manifest"], blobs: blobs.sort() };
}

/** Berth's access log from index `from` on, after waiting for the lines of the last requests to arrive. */
export async function settledLog(berth: BerthProcess, from: number): Promise<LoggedRequest[]> {
  let seen = -1;
  for (let waited = 0; waited < 5000; waited += 150) {
    await new Promise((r) => setTimeout(r, 150));
    const now = requestLog(berth).length;
    if (now === seen) break;
    seen = now;
  }
  return requestLog(berth).slice(from);
}

/** Requests the upstream fixture's front passed on for repository `remote` (`library/x`). */
export function upstreamRequestsFor(upstream: Upstream, remote: string): string[] {
  return upstream.requests().filter((r) => r.path.startsWith(`/v2/${remote}/`)).map((r) => `${r.method} ${r.path}`);
}
