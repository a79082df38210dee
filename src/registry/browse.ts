import type { Digest } from "../oci/digest.js";
import { RegistryError } from "../oci/errors.js";
import { globMatch } from "../oci/glob.js";
import { createTagRules, type TagRule } from "../oci/tag-rules.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { BrowseKey, ManifestSummary, RepositoryStats } from "../storage/browse-store.js";
import type { MetadataStore } from "../storage/metadata-store.js";
import { createPlatforms } from "./platforms.js";
import type { Quotas } from "./quotas.js";

/**
 * What the web UI's repository list and repository page show (docs/web-ui.md, "API"): the
 * listings over BrowseStore with opaque cursors, per-item visibility filtering, and the details
 * the store does not keep (platforms, immutability, the supply chain's view through a hook).
 * Knows nothing of HTTP or of who is asking: callers pass what the caller may see.
 */
export interface Browse {
  /** Repositories by `sort`; `visible` (absent: all) filters each; `total` only when nothing is filtered out by it. */
  listRepositories(query: ListQuery<"name" | "pushed" | "size">, visible?: (name: string) => Promise<boolean>): Promise<ListPage<RepositoryStats>>;
  /** One repository's numbers, its immutable-tag patterns and its tightest quota (NAME_UNKNOWN when absent). */
  repository(name: string): Promise<RepositoryInfo>;
  /** `repo`'s tags with their manifests' details (NAME_UNKNOWN when absent). */
  listTags(repo: string, query: ListQuery<"name" | "pushed">, supply?: SupplyLookup): Promise<ListPage<TagItem>>;
  /** `repo`'s untagged manifests (BrowseStore.listUntaggedManifests), newest first (NAME_UNKNOWN when absent). */
  listUntagged(repo: string, query: Pick<ListQuery<never>, "n" | "cursor">): Promise<ListPage<UntaggedItem>>;
}

export interface ListQuery<S extends string> {
  sort: S;
  order: "asc" | "desc";
  /** Case-insensitive substring of the name. */
  q?: string;
  n: number;
  /** `next` of the previous page (of the same sort and order; INVALID otherwise). */
  cursor?: string;
}

export interface ListPage<T> {
  items: T[];
  next?: string;
  total?: number;
}

export interface RepositoryInfo extends RepositoryStats {
  immutableTags: string[];
  quota?: { limit: number; used: number; scope: string };
}

export interface ManifestDetails {
  digest: Digest;
  mediaType: string;
  artifactType?: string;
  /** The manifest, its index children, and the distinct blobs they reference. */
  size: number;
  platforms: string[];
}

export interface TagItem extends ManifestDetails {
  tag: string;
  pushedAt: number;
  pulledAt: number | null;
  pulls: number;
  immutable: boolean;
  supply?: SupplyStatus;
}

export interface UntaggedItem extends ManifestDetails {
  pushedAt: number;
}

/** A manifest's supply-chain state, as far as it is cheap to know. */
export interface SupplyStatus {
  signature: string;
  vulnerabilities: { critical: number; high: number; medium: number; low: number } | null;
  sbom: boolean;
}

/** Asked for each manifest of a tags page (at most SUPPLY_CONCURRENCY at a time); undefined leaves `supply` out. */
export type SupplyLookup = (repo: string, manifest: { digest: Digest; mediaType: string }) => Promise<SupplyStatus | undefined>;

/** Rows read per store page while a visibility filter drops some; at most SCAN_LIMIT rows per request. */
const SCAN_BATCH = 200;
const SCAN_LIMIT = 5000;
const SUPPLY_CONCURRENCY = 8;
/**
 * A tags page waits at most this long for supply-chain states; the rest are left out of it (those
 * still being looked up finish in the background, warming the supply chain's caches for the next load). Matching
 * a fresh vulnerability database against 50 SBOMs can take seconds; the page must not.
 */
const SUPPLY_BUDGET_MS = 250;

/** The cursor: the listing it belongs to and the last entry's key, base64url JSON (opaque to clients). */
export function encodeCursor(listing: string, key: BrowseKey): string {
  return Buffer.from(JSON.stringify([listing, key.value, key.name])).toString("base64url");
}

export function decodeCursor(listing: string, cursor: string): BrowseKey {
  try {
    const [l, value, name] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (l === listing && typeof value === "number" && Number.isFinite(value) && typeof name === "string") return { value, name };
  } catch {
    // reported below
  }
  throw new RegistryError("INVALID", "cursor is not one this listing returned (use `next` with the same sort and order)", { cursor });
}

/** Fills `into` with the supply states of `manifests`, SUPPLY_CONCURRENCY at a time, for at most SUPPLY_BUDGET_MS. */
async function lookUpSupply(repo: string, manifests: ManifestDetails[], supply: SupplyLookup, into: Map<Digest, SupplyStatus | undefined>): Promise<void> {
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  const worker = async () => {
    while (next < manifests.length) {
      const m = manifests[next++]!;
      into.set(m.digest, await supply(repo, m).catch(() => undefined));
    }
  };
  const budget = new Promise<void>((resolve) => (timer = setTimeout(resolve, SUPPLY_BUDGET_MS)));
  const done = Promise.all(Array.from({ length: Math.min(SUPPLY_CONCURRENCY, manifests.length) }, worker));
  await Promise.race([done, budget]);
  clearTimeout(timer);
  // Whatever arrives after the answer was built must not change it.
  next = manifests.length;
}

const unknownRepository = (name: string) => new RegistryError("NAME_UNKNOWN", `no repository named ${name}`, { name });

export function createBrowse(metadata: MetadataStore, blobs: BlobStore, tagRules: readonly TagRule[], quotas?: Quotas): Browse {
  const rules = createTagRules(tagRules);
  const platforms = createPlatforms(blobs);

  async function details(repo: string, digests: Digest[]): Promise<Map<Digest, ManifestDetails & { createdAt: number }>> {
    const summaries = await metadata.manifestSummaries(repo, [...new Set(digests)]);
    const out = new Map<Digest, ManifestDetails & { createdAt: number }>();
    await Promise.all(
      summaries.map(async (m: ManifestSummary) => {
        out.set(m.digest, {
          digest: m.digest,
          mediaType: m.mediaType,
          ...(m.artifactType !== undefined ? { artifactType: m.artifactType } : {}),
          size: m.totalSize,
          platforms: await platforms.of(m.mediaType, m.content),
          createdAt: m.createdAt,
        });
      }),
    );
    return out;
  }

  async function requireRepository(name: string): Promise<RepositoryStats> {
    const stats = await metadata.repositoryStats(name);
    if (!stats) throw unknownRepository(name);
    return stats;
  }

  return {
    async listRepositories(query, visible) {
      const listing = `repositories:${query.sort}:${query.order}`;
      let after = query.cursor !== undefined ? decodeCursor(listing, query.cursor) : undefined;
      const contains = query.q ? query.q.toLowerCase() : undefined;
      const batch = visible ? Math.max(SCAN_BATCH, query.n + 1) : query.n + 1;
      const keyOf = (r: RepositoryStats): BrowseKey => ({
        value: query.sort === "size" ? r.size : query.sort === "pushed" ? (r.pushedAt ?? 0) : 0,
        name: r.name,
      });
      const items: RepositoryStats[] = [];
      let last: BrowseKey | undefined;
      let more = false;
      let scanned = 0;
      scan: for (;;) {
        const page = await metadata.listRepositoryStats({ sort: query.sort, order: query.order, limit: batch, ...(contains ? { contains } : {}), ...(after ? { after } : {}) });
        for (const r of page) {
          if (items.length === query.n) {
            more = true;
            break scan;
          }
          last = keyOf(r);
          scanned++;
          if (!visible || (await visible(r.name))) items.push(r);
        }
        if (page.length < batch) break;
        after = last;
        if (scanned >= SCAN_LIMIT) {
          // A caller who may see few of many repositories gets a short page with a `next`, never an unbounded scan.
          more = true;
          break;
        }
      }
      const total = visible ? undefined : await metadata.countRepositories(contains);
      return { items, ...(more && last ? { next: encodeCursor(listing, last) } : {}), ...(total !== undefined ? { total } : {}) };
    },

    async repository(name) {
      const stats = await requireRepository(name);
      const immutableTags = [...new Set(tagRules.filter((r) => globMatch(r.repositories, name)).flatMap((r) => r.immutable))];
      let quota: RepositoryInfo["quota"];
      if (quotas?.enabled) {
        // The scope closest to its limit is the one that refuses the next push.
        for (const q of await quotas.status(name)) {
          if (!quota || q.limit - q.used < quota.limit - quota.used) quota = { limit: q.limit, used: q.used, scope: q.scope };
        }
      }
      return { ...stats, immutableTags, ...(quota ? { quota } : {}) };
    },

    async listTags(repo, query, supply) {
      await requireRepository(repo);
      const listing = `tags:${query.sort}:${query.order}`;
      const after = query.cursor !== undefined ? decodeCursor(listing, query.cursor) : undefined;
      const contains = query.q ? query.q.toLowerCase() : undefined;
      const rows = await metadata.listTagDetails(repo, { sort: query.sort, order: query.order, limit: query.n + 1, ...(contains ? { contains } : {}), ...(after ? { after } : {}) });
      const more = rows.length > query.n;
      rows.length = Math.min(rows.length, query.n);
      const [manifests, total] = await Promise.all([details(repo, rows.map((r) => r.digest)), metadata.countTags(repo, contains)]);
      const supplies = new Map<Digest, SupplyStatus | undefined>();
      if (supply) await lookUpSupply(repo, [...manifests.values()], supply, supplies);
      const items: TagItem[] = [];
      for (const r of rows) {
        const m = manifests.get(r.digest);
        // Deleted between the two reads: the next page load will not list it either.
        if (!m) continue;
        const { createdAt: _, ...manifest } = m;
        const s = supplies.get(r.digest);
        items.push({
          tag: r.tag,
          ...manifest,
          pushedAt: r.pushedAt,
          pulledAt: r.pulledAt ?? null,
          pulls: r.pulls,
          immutable: rules.immutableRule(repo, r.tag) !== undefined,
          ...(s ? { supply: s } : {}),
        });
      }
      const lastRow = rows[rows.length - 1];
      const next = more && lastRow ? encodeCursor(listing, { value: query.sort === "pushed" ? lastRow.pushedAt : 0, name: lastRow.tag }) : undefined;
      return { items, ...(next ? { next } : {}), total };
    },

    async listUntagged(repo, query) {
      await requireRepository(repo);
      const after = query.cursor !== undefined ? decodeCursor("untagged", query.cursor) : undefined;
      const rows = await metadata.listUntaggedManifests(repo, { limit: query.n + 1, ...(after ? { after } : {}) });
      const more = rows.length > query.n;
      rows.length = Math.min(rows.length, query.n);
      const manifests = await details(repo, rows.map((r) => r.digest));
      const items: UntaggedItem[] = [];
      for (const r of rows) {
        const m = manifests.get(r.digest);
        if (!m) continue;
        const { createdAt, ...manifest } = m;
        items.push({ ...manifest, pushedAt: createdAt });
      }
      const lastRow = rows[rows.length - 1];
      return { items, ...(more && lastRow ? { next: encodeCursor("untagged", { value: lastRow.createdAt, name: lastRow.digest }) } : {}) };
    },
  };
}
