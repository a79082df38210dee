import type { Digest } from "../oci/digest.js";

/**
 * What the web UI's repository list and repository page read: per-repository numbers the database
 * keeps exact with triggers as rows come and go (whoever writes: a push, a delete, a cascade, GC,
 * the CLI), and tag and manifest details a page at a time.
 *
 * - A repository's `size` is the sizes of the blobs linked to it (each linked blob once) plus
 *   its manifests' bytes. A blob an unlinked-but-referencing manifest still names (a pull-through
 *   cache's lazy layers) is not counted until it is linked.
 * - `pushedAt` is the last time a manifest was stored in it or a tag of it was created or moved
 *   (epoch ms); a re-push that changes nothing, a tag deletion or a pull does not move it.
 * - `contains` filters names by substring (byte-wise; names are lower case by the OCI grammar, so
 *   callers lower-case the text first for a case-insensitive search). It cannot use an index:
 *   the listing walks the sort's index and tests each name, which is a fast scan at 100,000 names.
 *
 * Listings are keyset-paged: `after` is the sort key of the last entry of the previous page (the
 * sort value and the name, the name breaking ties), and entries strictly after it in the listing's
 * order are returned, at most `limit`. A page is an index range scan for every sort and order.
 */
export interface BrowseStore {
  /** Repositories in `query`'s order and filter. */
  listRepositoryStats(query: RepositoryQuery): Promise<RepositoryStats[]>;
  /** How many repositories match `contains` (all of them without it). Counts rows: one scan of the name index. */
  countRepositories(contains?: string): Promise<number>;
  /** One repository's numbers, or undefined when it does not exist. */
  repositoryStats(name: string): Promise<RepositoryStats | undefined>;
  /** Tags of `repo` in `query`'s order (`pushed`: the tag's own `pushedAt`); empty when `repo` does not exist. */
  listTagDetails(repo: string, query: TagQuery): Promise<TagDetail[]>;
  /** How many tags of `repo` match `contains`. */
  countTags(repo: string, contains?: string): Promise<number>;
  /**
   * Manifests of `repo` no tag points at, that are no referrer (no `subject`) and no child of
   * another manifest of `repo` (an index's platforms): what deleting tags left behind, newest
   * first (by `createdAt`, then digest descending), keyset-paged on `{value: createdAt, name: digest}`.
   */
  listUntaggedManifests(repo: string, query: { after?: BrowseKey; limit: number }): Promise<{ digest: Digest; createdAt: number }[]>;
  /**
   * The named manifests of `repo` (those it holds; unknown digests are left out, order not kept),
   * with `totalSize`: the manifest's bytes, plus its index children's bytes, plus the sizes of the
   * distinct blobs it and its children reference (a layer shared by two platforms counts once).
   */
  manifestSummaries(repo: string, digests: readonly Digest[]): Promise<ManifestSummary[]>;
}

/** A listing position: the sort value (a time or a size; 0 for the name sort) and the name (or digest) breaking ties. */
export interface BrowseKey {
  value: number;
  name: string;
}

export interface RepositoryQuery {
  sort: "name" | "pushed" | "size";
  order: "asc" | "desc";
  contains?: string;
  after?: BrowseKey;
  limit: number;
}

export interface RepositoryStats {
  name: string;
  tags: number;
  manifests: number;
  size: number;
  /** Undefined when nothing was ever pushed (an empty repository `berth migrate` created). */
  pushedAt?: number;
}

export interface TagQuery {
  sort: "name" | "pushed";
  order: "asc" | "desc";
  contains?: string;
  after?: BrowseKey;
  limit: number;
}

export interface TagDetail {
  tag: string;
  digest: Digest;
  /** When the tag was last pointed at its current manifest. */
  pushedAt: number;
  /** The last recorded pull (RetentionStore: to the tracker's resolution); undefined when never pulled. */
  pulledAt?: number;
  /** Pulls counted for this tag (RetentionStore.countPulls), since it was created. */
  pulls: number;
}

export interface ManifestSummary {
  digest: Digest;
  mediaType: string;
  artifactType?: string;
  /** The manifest's own bytes. */
  size: number;
  /** See BrowseStore.manifestSummaries. */
  totalSize: number;
  /** The manifest exactly as pushed (to read an index's platforms or an image's config digest). */
  content: Buffer;
  createdAt: number;
}
