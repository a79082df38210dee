import type { UpstreamConfig } from "../config/schema.js";
import type { Logger } from "../logger.js";
import type { Digest } from "../oci/digest.js";
import { RegistryError } from "../oci/errors.js";
import { RegistryClientError } from "../client/registry-client.js";
import type { Reference } from "../oci/reference.js";
import type { Origin } from "../registry/events.js";
import type { Registry } from "../registry/registry.js";
import { createBlobFetches, type BlobFetch, type BlobSink } from "./blob-fetch.js";
import { cacheStatus, type CacheResult } from "./cache-status.js";
import { upstreamError, upstreamUnavailable, UpstreamPaused } from "./failures.js";
import { createUpstreams, type ProxyTarget, type Resolution, type Upstream } from "./upstreams.js";

export type { ProxyTarget, Resolution } from "./upstreams.js";

/** What the pull-through cache reports, for metrics. */
export interface ProxyObserver {
  served(upstream: string, kind: "manifest" | "blob" | "tags" | "referrers", result: CacheResult): void;
  fetched(upstream: string, bytes: number): void;
  rateLimit(upstream: string, limit: number | undefined, remaining: number | undefined): void;
}

export interface PullThroughOptions {
  registry: Registry;
  upstreams: readonly UpstreamConfig[];
  /** A local directory for blobs being fetched (emptied at start). */
  spoolDir: string;
  /** Whether the blob store fsyncs what it commits: the spool is then synced as it grows, so that the fsync at commit is short. */
  durable?: boolean;
  logger: Logger;
  observer?: ProxyObserver;
}

/** How a blob request is answered: from the cache repository, by the upstream's size (HEAD), or by a fetch in progress. */
export type BlobOutcome =
  | { kind: "local"; cacheStatus: string }
  | { kind: "head"; size: number; cacheStatus: string }
  | { kind: "fetch"; fetch: BlobFetch; cacheStatus: string };

/** A listing (tags, referrers) as the upstream gave it, or `local` when the cache repository answers. */
export type ListingOutcome<T> = { kind: "upstream"; value: T; cacheStatus: string } | { kind: "local"; cacheStatus: string };

/**
 * The pull-through cache: fills the cache repository (`<upstream>/<remote>`) from the upstream so
 * that the ordinary handlers can serve it, and says what happened as an RFC 9211 Cache-Status.
 * Digests are served from the cache forever; tags are trusted for the upstream's `tagTtl`, then
 * revalidated with a HEAD; when the upstream cannot answer, a cached tag is served stale.
 */
export interface PullThrough {
  readonly upstreams: readonly Upstream[];
  /**
   * Where a read of `name` is served from (`ns`: containerd's mirror parameter). A blob read of a
   * name without the upstream's prefix goes to the upstream only once a manifest came through its
   * cache repository: before that it is a push to a new repository asking what it need not upload.
   */
  resolve(name: string, ns: string | undefined, kind?: "manifest" | "blob" | "tags" | "referrers"): Promise<Resolution>;
  /** Throws DENIED when `name` lies under an upstream's prefix: the cache is filled only by pulls. */
  refuseWrite(name: string): void;
  /** Makes the manifest available in `target.local`; resolves its Cache-Status. */
  manifest(target: ProxyTarget, reference: Reference): Promise<string>;
  blob(target: ProxyTarget, digest: Digest, method: string): Promise<BlobOutcome>;
  tags(target: ProxyTarget, page: { n?: number; last?: string }): Promise<ListingOutcome<{ tags: string[]; next?: string }>>;
  referrers(target: ProxyTarget, digest: Digest, artifactType?: string): Promise<ListingOutcome<{ content: Buffer; filtersApplied?: string }>>;
  close(): void;
}

const MAX_FRESH_ENTRIES = 100_000;
/** As an upload's early flushes (filesystem-blob-store.ts EARLY_FLUSH). */
const SPOOL_SYNC_EVERY = 32 << 20;

export function createPullThrough(options: PullThroughOptions): PullThrough {
  const { registry, logger, observer } = options;
  const metadata = registry.stores.metadataStore;
  const upstreams = createUpstreams(options.upstreams, observer?.rateLimit);
  const fetches = createBlobFetches(options.spoolDir);
  /** When each cached tag was last confirmed by its upstream (per node; a restart revalidates once). */
  const confirmed = new Map<string, number>();
  const inflight = new Map<string, Promise<CacheResult>>();

  const originOf = (upstream: Upstream): Origin => ({ actor: `proxy:${upstream.name}` });

  function confirm(key: string): void {
    confirmed.delete(key);
    confirmed.set(key, Date.now());
    if (confirmed.size > MAX_FRESH_ENTRIES) confirmed.delete(confirmed.keys().next().value!);
  }

  /** Runs `work` once for concurrent callers with the same key; the others get `collapsed`. */
  async function once(key: string, work: () => Promise<CacheResult>): Promise<CacheResult> {
    const running = inflight.get(key);
    if (running) {
      const result = await running;
      return result === "miss" ? "collapsed" : result;
    }
    const started = work().finally(() => inflight.delete(key));
    inflight.set(key, started);
    return started;
  }

  function ask(upstream: Upstream): void {
    const pause = upstream.backingOff();
    if (pause) throw new UpstreamPaused(pause.until, pause.reason);
  }

  /** Records a failure with the upstream; says so in the log when it makes Berth leave the upstream alone. */
  function noted(upstream: Upstream, err: unknown): unknown {
    const before = upstream.backingOff();
    upstream.failed(err);
    const after = upstream.backingOff();
    if (after && !before) {
      logger.warn("upstream failing: Berth leaves it alone for a while (cached tags are served stale meanwhile)", {
        upstream: upstream.name,
        url: upstream.url,
        error: after.reason.message,
        retry_in_ms: after.until - Date.now(),
      });
    }
    return err;
  }

  async function store(target: ProxyTarget, content: Buffer, mediaType: string, reference: Reference): Promise<void> {
    await registry.manifests.put(target.local, { reference, content, contentType: mediaType, origin: originOf(target.upstream), fromUpstream: true });
  }

  async function fetchByDigest(target: ProxyTarget, digest: Digest, tag?: string): Promise<void> {
    const got = await target.upstream.client.manifest(target.remote, digest);
    if (!got?.content) throw new RegistryError("MANIFEST_UNKNOWN", `not on upstream ${target.upstream.name}`, { upstream: target.upstream.name, digest });
    await store(target, got.content, got.mediaType, tag === undefined ? { kind: "digest", digest } : { kind: "tag", tag });
  }

  async function refreshTag(target: ProxyTarget, tag: string, key: string, cached: Digest | undefined): Promise<CacheResult> {
    const { upstream } = target;
    try {
      ask(upstream);
      if (cached === undefined) {
        const got = await upstream.client.manifest(target.remote, tag).catch((err) => Promise.reject(noted(upstream, err)));
        if (!got?.content) throw new RegistryError("MANIFEST_UNKNOWN", `${target.remote}:${tag} is not on upstream ${upstream.name}`, { upstream: upstream.name, tag });
        await store(target, got.content, got.mediaType, { kind: "tag", tag });
        confirm(key);
        return "miss";
      }
      const head = await upstream.client.manifest(target.remote, tag, { method: "HEAD" }).catch((err) => Promise.reject(noted(upstream, err)));
      if (!head) throw new RegistryError("MANIFEST_UNKNOWN", `${target.remote}:${tag} is no longer on upstream ${upstream.name}`, { upstream: upstream.name, tag });
      if (head.digest !== cached) {
        const known = await metadata.getManifest(target.local, head.digest);
        if (known) await store(target, known.content, known.mediaType, { kind: "tag", tag });
        else await fetchByDigest(target, head.digest, tag).catch((err) => Promise.reject(noted(upstream, err)));
        confirm(key);
        return known ? "revalidated" : "miss";
      }
      confirm(key);
      return "revalidated";
    } catch (err) {
      if (cached === undefined || !upstreamUnavailable(err)) throw upstreamError(err, upstream, `${target.remote}:${tag}`);
      // While the upstream is left alone its pause was logged once already; each stale answer is then debug.
      (err instanceof UpstreamPaused ? logger.debug : logger.warn).call(logger, "upstream unavailable: serving a cached tag stale", { upstream: upstream.name, repository: target.local, tag, error: String((err as Error).message) });
      return "stale";
    }
  }

  /** Into the cache repository: the spool file itself when the store can take it over, else the bytes as they arrive. */
  function sinkOf(local: string, digest: Digest, origin: Origin): BlobSink {
    const { putFile } = registry.uploads;
    if (putFile) {
      return { kind: "file", ...(options.durable ? { syncEvery: SPOOL_SYNC_EVERY } : {}), store: (path, hash, size) => putFile(local, digest, { path, size, hash }, origin) };
    }
    return { kind: "stream", store: (body, size) => registry.uploads.putWhole(local, digest, body, size, origin) };
  }

  return {
    upstreams: upstreams.all,

    async resolve(name, ns, kind) {
      const resolution = await upstreams.resolve(name, ns, (n) => metadata.repositoryExists(n));
      if (kind !== "blob" || resolution.kind === "local" || name.startsWith(`${resolution.target.upstream.name}/`)) return resolution;
      // Answering from the cache here would tell a push (skopeo, podman and docker HEAD each blob) that
      // the blob is there when it is linked only to the cache repository: the manifest PUT then fails.
      return (await metadata.repositoryExists(resolution.target.local)) ? resolution : { kind: "local" };
    },

    refuseWrite(name) {
      const target = upstreams.prefixed(name);
      if (!target) return;
      throw new RegistryError(
        "DENIED",
        `${target.upstream.name}/ is a pull-through cache of ${target.upstream.url}: it is filled by pulls, pushes are refused (push to a name outside ${target.upstream.name}/)`,
        { repository: name, upstream: target.upstream.name },
      );
    },

    async manifest(target, reference) {
      const { upstream, remote, local } = target;
      upstream.allow(remote);
      if (reference.kind === "digest") {
        const { digest } = reference;
        if (await metadata.getManifest(local, digest)) return report(upstream, "manifest", "hit");
        const result = await once(`m ${local}@${digest}`, async () => {
          try {
            ask(upstream);
            await fetchByDigest(target, digest);
            return "miss";
          } catch (err) {
            throw upstreamError(noted(upstream, err), upstream, `${remote}@${digest}`);
          }
        });
        return report(upstream, "manifest", result);
      }
      const key = `${local}:${reference.tag}`;
      const cached = await metadata.getManifestByTag(local, reference.tag);
      const checkedAt = confirmed.get(key);
      // Until the tag is asked about again; negative once it is overdue.
      const leftMs = checkedAt === undefined ? undefined : checkedAt + upstream.tagTtlMs - Date.now();
      const seconds = leftMs === undefined ? undefined : Math.round(leftMs / 1000);
      if (cached && leftMs !== undefined && leftMs > 0) return report(upstream, "manifest", "hit", seconds);
      const result = await once(`t ${key}`, () => refreshTag(target, reference.tag, key, cached?.digest));
      return report(upstream, "manifest", result, result === "stale" ? seconds : undefined);
    },

    async blob(target, digest, method) {
      const { upstream, remote, local } = target;
      upstream.allow(remote);
      if (await metadata.getBlobLink(local, digest)) return { kind: "local", cacheStatus: report(upstream, "blob", "hit") };
      try {
        ask(upstream);
        // Knowing a digest is no licence to read it: a blob stored for another repository (a private
        // one, or another upstream's) is linked here only once this upstream says this repository has it.
        const elsewhere = (await registry.stores.blobStore.stat(digest)) !== undefined;
        if (method === "HEAD" || elsewhere) {
          const size = await upstream.client.blobSize(remote, digest);
          if (size === undefined) throw new RegistryError("BLOB_UNKNOWN", `not on upstream ${upstream.name}`, { upstream: upstream.name, digest });
          if (elsewhere && (await registry.uploads.linkExisting(local, digest))) return { kind: "local", cacheStatus: report(upstream, "blob", "hit") };
          if (method === "HEAD") return { kind: "head", size, cacheStatus: report(upstream, "blob", "forwarded") };
        }
        const { fetch, collapsed } = await fetches.obtain(
          digest,
          async () => {
            const answer = await upstream.client.blob(remote, digest);
            if (!answer) throw new RegistryError("BLOB_UNKNOWN", `not on upstream ${upstream.name}`, { upstream: upstream.name, digest });
            // Before the fetch: a store taking the finished file reaches its quota check only once every byte is here.
            if (answer.size !== undefined && registry.quotas.enabled) {
              await registry.quotas.check(local, { blobs: [{ digest, size: answer.size }] }, originOf(upstream)).catch((err) => {
                answer.stream.destroy();
                throw err;
              });
            }
            return {
              ...(answer.size !== undefined ? { size: answer.size } : {}),
              stream: answer.stream,
              ...(observer ? { received: (bytes: number) => observer.fetched(upstream.name, bytes) } : {}),
            };
          },
          sinkOf(local, digest, originOf(upstream)),
        );
        // Once per fetch, by the request that started it, not once more per client that joined.
        if (!collapsed) {
          fetch.stored.catch((err) => {
            noted(upstream, err);
            logger.warn("fetching a blob from the upstream failed: nothing was stored", { upstream: upstream.name, repository: local, digest, error: String((err as Error).message) });
          });
        }
        // Answered with the first byte: an upstream failing before it sends one is a 5xx naming it, not a cut connection.
        await fetch.started().catch((err: unknown) => {
          fetch.release();
          throw err instanceof RegistryError || err instanceof RegistryClientError ? err : new RegistryClientError("status", `the blob's body broke off before its first byte (${(err as Error).message})`, 502);
        });
        return { kind: "fetch", fetch, cacheStatus: report(upstream, "blob", collapsed ? "collapsed" : "miss") };
      } catch (err) {
        throw upstreamError(noted(upstream, err), upstream, `${remote}@${digest}`);
      }
    },

    async tags(target, page) {
      const { upstream, remote } = target;
      upstream.allow(remote);
      try {
        ask(upstream);
        const list = await upstream.client.tags(remote, page);
        if (!list) throw new RegistryError("NAME_UNKNOWN", `${remote} is not on upstream ${upstream.name}`, { upstream: upstream.name });
        return { kind: "upstream", value: { tags: list.tags, ...(list.next !== undefined ? { next: list.next } : {}) }, cacheStatus: report(upstream, "tags", "forwarded") };
      } catch (err) {
        if (!upstreamUnavailable(noted(upstream, err))) throw upstreamError(err, upstream, `the tags of ${remote}`);
        return { kind: "local", cacheStatus: report(upstream, "tags", "stale") };
      }
    },

    async referrers(target, digest, artifactType) {
      const { upstream, remote } = target;
      upstream.allow(remote);
      try {
        ask(upstream);
        const found = await upstream.client.referrers(remote, digest, artifactType);
        // No referrers API upstream: what the cache holds is all there is to say.
        if (!found) return { kind: "local", cacheStatus: report(upstream, "referrers", "forwarded") };
        return { kind: "upstream", value: found, cacheStatus: report(upstream, "referrers", "forwarded") };
      } catch (err) {
        if (!upstreamUnavailable(noted(upstream, err))) throw upstreamError(err, upstream, `the referrers of ${remote}@${digest}`);
        return { kind: "local", cacheStatus: report(upstream, "referrers", "stale") };
      }
    },

    close() {
      upstreams.close();
    },
  };

  function report(upstream: Upstream, kind: "manifest" | "blob" | "tags" | "referrers", result: CacheResult, ttlSeconds?: number): string {
    observer?.served(upstream.name, kind, result);
    return cacheStatus(result, ttlSeconds);
  }
}
