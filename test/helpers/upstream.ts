/**
 * An upstream registry that plays Docker Hub for the pull-through cache tests: real CNCF distribution
 * 2.8 behind a Docker-style token server and a "front" reverse proxy with Docker Hub's rate-limit
 * headers, a request log and fault switches (error statuses, blobs cut mid-body, delays, the front
 * going away). Content is seeded with skopeo straight into distribution, so the front's log holds
 * only what the tests (and the proxy under test) asked for.
 */
import { randomBytes, randomInt } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDistribution, type Distribution, type DistributionAccess } from "./upstream-distribution.js";
import { createFront, type FailOptions, type FaultScope, type Front, type FrontRequest } from "./upstream-front.js";
import { createTokenServer, type TokenRequest, type TokenServer } from "./upstream-token.js";
import { writeImageLayout, writeMultiArchLayout } from "./oci-layout.js";
import { withClient } from "./push.js";
import { run } from "./tools.js";

export type { DistributionAccess } from "./upstream-distribution.js";
export type { FailOptions, FaultScope, FrontRequest } from "./upstream-front.js";
export type { TokenAccess, TokenRequest } from "./upstream-token.js";

/** Options for {@link startUpstream}. */
export interface UpstreamOptions {
  /** Token auth in front of distribution (default true); false runs distribution without auth. */
  auth?: boolean;
  /** name → password; they get pull, push and delete tokens. A wrong password gets 401. */
  users?: Record<string, string>;
  /** Anonymous pull tokens (default true); false makes the upstream private (anonymous token requests get 401). */
  anonymousPull?: boolean;
  /** Token lifetime, `expires_in` (default 300 s). */
  tokenTtlSeconds?: number;
  /** Manifest GETs allowed before 429 (default 100, Docker Hub's anonymous limit). */
  rateLimit?: number;
  /** The token `service` (default `registry.docker.io`). */
  service?: string;
}

/** Content for one seeded image: `layers` random layers of `layerBytes` each. */
export interface SeedOptions {
  /** Bytes of random file content per layer (default 1 MiB); the gzip blob is ~1.5 KiB larger. */
  layerBytes?: number;
  /** Default 1. */
  layers?: number;
  /** Makes the layer bytes reproducible; without it every push gets new content (new digests). */
  seed?: number;
}

/** Digests of a seeded single-platform image. */
export interface SeededImage {
  name: string;
  tag: string;
  /** `127.0.0.1:FRONT/name:tag`, through the front. */
  reference: string;
  /** OCI image manifest (`application/vnd.oci.image.manifest.v1+json`). */
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
  /** Blob sizes, in the order of layerDigests. */
  layerSizes: number[];
}

/** Digests of a seeded OCI image index and its per-platform images. */
export interface SeededIndex {
  name: string;
  tag: string;
  reference: string;
  indexDigest: string;
  manifestDigests: string[];
  children: {
    platform: { os: string; architecture: string; variant?: string };
    manifestDigest: string;
    configDigest: string;
    layerDigests: string[];
    layerSizes: number[];
  }[];
}

/** A running upstream; every process is stopped by stop(). */
export interface Upstream {
  /** `http://127.0.0.1:FRONT`: the URL to hand out (the front, not distribution). */
  url: string;
  /** `127.0.0.1:FRONT`, for image references. */
  host: string;
  /** distribution itself (`http://127.0.0.1:PORT`), bypassing the front. */
  distributionUrl: string;
  /** The token realm (`http://127.0.0.1:PORT/token`); undefined with auth: false. */
  tokenUrl: string | undefined;
  service: string;
  /**
   * Every /v2 request through the front answers `status` (429 with TOOMANYREQUESTS, 503 UNAVAILABLE,
   * others an OCI error body) until called with undefined, or for `times` requests matching `match`.
   */
  failWith(status: number | undefined, options?: FailOptions): void;
  /** Blob GET responses through the front send their head, then `bytes` body bytes, then the socket dies. */
  cutBlobsAfter(bytes: number | undefined, options?: FaultScope): void;
  /** The front waits `ms` before handling each request (0 turns it off). */
  delay(ms: number, options?: FaultScope): void;
  /** The front stops listening and drops its connections: clients get ECONNREFUSED. */
  stopFront(): Promise<void>;
  /** The front listens again on the same port. */
  startFront(): Promise<void>;
  /** Requests seen by the front, oldest first (entries of in-flight responses still grow). */
  requests(): FrontRequest[];
  /** GETs of /v2/<any name>/blobs/<digest> the front passed on to distribution. */
  blobGets(digest: string): number;
  /** GETs of /v2/<any name>/manifests/<reference> the front passed on to distribution. */
  manifestGets(reference: string): number;
  /** Manifest GETs left before the front answers 429; resetRateLimit refills it. */
  rateLimitRemaining(): number;
  resetRateLimit(limit?: number): void;
  /** Token requests answered, excluding the fixture's own seeding. */
  tokenRequests(): number;
  tokenLog(): TokenRequest[];
  /** The token server answers every request with `status` until called with undefined (seeding is exempt). */
  failTokensWith(status: number | undefined): void;
  /** distribution's own access log (seeding included), read after a flush so answered requests are in. */
  distributionLog(): Promise<DistributionAccess[]>;
  /**
   * 2xx GETs of that blob in distribution's access log: how many times distribution sent it. A GET the
   * front cut short counts too: distribution had usually written the whole blob into the socket buffers.
   */
  distributionBlobSends(digest: string): Promise<number>;
  /** Empties the front's request log, the token log and distribution's access log. */
  clearLogs(): Promise<void>;
  /** Seeds a single-platform linux/amd64 image as name:tag. */
  push(name: string, tag: string, options?: SeedOptions): Promise<SeededImage>;
  /** Seeds an OCI index over linux/amd64 and linux/arm64 images (or `platforms`, as `os/arch[/variant]`). */
  pushIndex(name: string, tag: string, options?: SeedOptions & { platforms?: string[] }): Promise<SeededIndex>;
  /** Copies any skopeo source (e.g. `oci:/dir:ref`) to name:tag with `--preserve-digests`. */
  copyIn(source: string, name: string, tag: string): Promise<void>;
  /** Deletes a manifest by digest from distribution (the tag pointing at it goes too). */
  deleteManifest(name: string, digest: string): Promise<void>;
  stop(): Promise<void>;
}

const MiB = 1 << 20;
const SEEDER = "upstream-fixture-seeder";

/** Starts token server (unless auth: false), distribution and the front, all on free loopback ports. */
export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const dir = await mkdtemp(join(tmpdir(), "berth-upstream-"));
  const service = options.service ?? "registry.docker.io";
  const seederPassword = randomBytes(12).toString("hex");
  const auth = options.auth ?? true;
  let token: TokenServer | undefined;
  let distribution: Distribution | undefined;
  let front: Front | undefined;
  try {
    if (auth) {
      token = await createTokenServer({
        dir,
        service,
        issuer: "berth-upstream-token-issuer",
        users: { ...options.users, [SEEDER]: seederPassword },
        internal: [SEEDER],
        anonymousPull: options.anonymousPull,
        ttlSeconds: options.tokenTtlSeconds,
      });
    }
    distribution = await startDistribution(
      dir,
      token && { realm: token.realm, service, issuer: "berth-upstream-token-issuer", certPath: token.certPath },
    );
    front = await createFront({ host: "127.0.0.1", port: distribution.port }, options.rateLimit);
  } catch (err) {
    await front?.close();
    await distribution?.stop();
    await token?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const dist = distribution;
  const tok = token;
  const fr = front;
  const host = `127.0.0.1:${fr.port}`;
  const authFile = join(dir, "auth.json");
  await writeFile(authFile, JSON.stringify({ auths: {} }));
  let seeds = 0;

  const countForwarded = (method: string, pattern: RegExp) =>
    fr.requests().filter((r) => r.forwarded && r.method === method && pattern.test(r.path)).length;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  async function copyIn(source: string, name: string, tag: string): Promise<void> {
    const creds = auth ? ["--dest-creds", `${SEEDER}:${seederPassword}`] : [];
    await run("skopeo", ["copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false", ...creds, source, `docker://${dist.host}/${name}:${tag}`], {
      env: { REGISTRY_AUTH_FILE: authFile },
      timeoutMs: 600_000,
    });
  }

  async function blobSizes(layout: string, digests: string[]): Promise<number[]> {
    return Promise.all(digests.map(async (d) => (await stat(join(layout, "blobs", "sha256", d.slice("sha256:".length)))).size));
  }

  function layers(opts: SeedOptions, salt: number) {
    const base = opts.seed ?? randomInt(2 ** 31);
    return Array.from({ length: opts.layers ?? 1 }, (_, i) => ({
      randomBytes: opts.layerBytes ?? MiB,
      seed: base * 1000 + salt * 100 + i,
      path: `/layer-${i}.bin`,
    }));
  }

  return {
    url: `http://${host}`,
    host,
    distributionUrl: `http://${dist.host}`,
    tokenUrl: tok?.realm,
    service,
    failWith: (status, opts) => fr.failWith(status, opts),
    cutBlobsAfter: (bytes, opts) => fr.cutBlobsAfter(bytes, opts),
    delay: (ms, opts) => fr.delay(ms, opts),
    stopFront: () => fr.stop(),
    startFront: () => fr.start(),
    requests: () => fr.requests(),
    blobGets: (digest) => countForwarded("GET", new RegExp(`^/v2/.+/blobs/${escape(digest)}$`)),
    manifestGets: (reference) => countForwarded("GET", new RegExp(`^/v2/.+/manifests/${escape(reference)}$`)),
    rateLimitRemaining: () => fr.rateLimitRemaining(),
    resetRateLimit: (limit) => fr.resetRateLimit(limit),
    tokenRequests: () => tok?.log().length ?? 0,
    tokenLog: () => tok?.log() ?? [],
    failTokensWith: (status) => tok?.failWith(status),
    async distributionLog() {
      await dist.flush();
      return dist.accessLog();
    },
    async distributionBlobSends(digest) {
      await dist.flush();
      const pattern = new RegExp(`^/v2/.+/blobs/${escape(digest)}(\\?|$)`);
      return dist.accessLog().filter((e) => e.method === "GET" && e.status >= 200 && e.status < 300 && pattern.test(e.uri)).length;
    },
    async clearLogs() {
      await dist.flush();
      dist.clearAccessLog();
      fr.clearRequests();
      tok?.clearLog();
    },
    async push(name, tag, opts = {}) {
      const layout = join(dir, `seed-${++seeds}`);
      try {
        const image = await writeImageLayout(layout, { ref: tag, layers: layers(opts, 0) });
        await copyIn(`oci:${layout}:${tag}`, name, tag);
        return {
          name,
          tag,
          reference: `${host}/${name}:${tag}`,
          manifestDigest: image.manifestDigest,
          configDigest: image.configDigest,
          layerDigests: image.layerDigests,
          layerSizes: await blobSizes(layout, image.layerDigests),
        };
      } finally {
        await rm(layout, { recursive: true, force: true });
      }
    },
    async pushIndex(name, tag, opts = {}) {
      const layout = join(dir, `seed-${++seeds}`);
      const platforms = (opts.platforms ?? ["linux/amd64", "linux/arm64"]).map((p, i) => {
        const [os, arch, variant] = p.split("/");
        return { os: os!, arch: arch!, variant, layers: layers(opts, i + 1) };
      });
      try {
        const multi = await writeMultiArchLayout(layout, { ref: tag, platforms });
        await copyIn(`oci:${layout}:${tag}`, name, tag);
        const children = [];
        for (const c of multi.children) {
          children.push({
            platform: c.platform,
            manifestDigest: c.manifestDigest,
            configDigest: c.configDigest,
            layerDigests: c.layerDigests,
            layerSizes: await blobSizes(layout, c.layerDigests),
          });
        }
        return { name, tag, reference: `${host}/${name}:${tag}`, indexDigest: multi.indexDigest, manifestDigests: multi.manifestDigests, children };
      } finally {
        await rm(layout, { recursive: true, force: true });
      }
    },
    copyIn,
    async deleteManifest(name, digest) {
      const credentials = tok ? { username: SEEDER, password: seederPassword } : undefined;
      await withClient(`http://${dist.host}`, (c) => c.deleteManifest(name, digest), credentials);
    },
    async stop() {
      await fr.close();
      await dist.stop();
      await tok?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
