import type { Digest } from "../oci/digest.js";
import { RegistryError } from "../oci/errors.js";
import { MediaType } from "../oci/media-types.js";
import type { MetadataStore } from "../storage/metadata-store.js";
import type { RegistryOptions } from "./options.js";

export interface PageRequest {
  /** Requested page size; undefined means the registry's maximum. */
  n?: number;
  last?: string;
}

export interface PageResult<T> {
  items: T[];
  /** The `last` to ask for the next page, when more remain. */
  next?: string;
}

export interface ReferrersIndex {
  schemaVersion: 2;
  mediaType: typeof MediaType.OciIndex;
  manifests: {
    mediaType: string;
    digest: Digest;
    size: number;
    artifactType?: string;
    annotations?: Record<string, string>;
  }[];
}

/** Tag lists, the catalog and the referrers index. */
export interface Listing {
  tags(repo: string, page: PageRequest): Promise<PageResult<string>>;
  /** Repositories in byte order; with `visible`, only those it accepts (pages fill up past hidden ones). */
  catalog(page: PageRequest, visible?: (repository: string) => Promise<boolean>): Promise<PageResult<string>>;
  referrers(repo: string, subject: Digest, artifactType?: string): Promise<ReferrersIndex>;
}

export function createListing(metadata: MetadataStore, options: RegistryOptions): Listing {
  async function paginate(page: PageRequest, fetch: (limit: number) => Promise<string[]>): Promise<PageResult<string>> {
    const n = page.n === undefined ? options.maxPageSize : Math.min(page.n, options.maxPageSize);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RegistryError("PAGINATION_NUMBER_INVALID", "n must be a non-negative integer", { n: page.n });
    }
    if (n === 0) return { items: [] };
    const items = await fetch(n + 1);
    if (items.length <= n) return { items };
    items.length = n;
    return { items, next: items[n - 1]! };
  }

  return {
    async tags(repo, page) {
      if (!(await metadata.repositoryExists(repo))) throw new RegistryError("NAME_UNKNOWN", undefined, { name: repo });
      return paginate(page, (limit) => metadata.listTags(repo, { limit, ...(page.last ? { last: page.last } : {}) }));
    },

    async catalog(page, visible) {
      if (!visible) return paginate(page, (limit) => metadata.listRepositories({ limit, ...(page.last ? { last: page.last } : {}) }));
      return paginate(page, async (limit) => {
        const found: string[] = [];
        let last = page.last;
        for (;;) {
          const batch = await metadata.listRepositories({ limit: Math.max(limit, 100), ...(last ? { last } : {}) });
          for (const name of batch) if (found.length < limit && (await visible(name))) found.push(name);
          if (found.length >= limit || batch.length < Math.max(limit, 100)) return found;
          last = batch[batch.length - 1];
        }
      });
    },

    async referrers(repo, subject, artifactType) {
      const records = await metadata.listReferrers(repo, subject, artifactType);
      return {
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: records.map((r) => ({
          mediaType: r.mediaType,
          digest: r.digest,
          size: r.size,
          ...(r.artifactType !== undefined ? { artifactType: r.artifactType } : {}),
          ...(r.annotations ? { annotations: r.annotations } : {}),
        })),
      };
    },
  };
}
