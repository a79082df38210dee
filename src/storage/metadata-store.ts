import type { Digest, DigestAlgorithm } from "../oci/digest.js";
import type { LifecycleStore } from "./lifecycle-store.js";
import type { UsageStore } from "./usage-store.js";
import type { Page } from "./page.js";
import type { RetentionStore } from "./retention-store.js";
import type { EventRecord, EventStore } from "./event-store.js";
import type { SupplyStore } from "./supply-store.js";
import type { BrowseStore } from "./browse-store.js";

export type { Page };

/**
 * Everything about the registry except blob bytes: repositories, which blobs each repository
 * links, manifests (their exact bytes included), tags, the references between them, and upload
 * sessions. Implementations must make each method atomic; `putManifest` in particular checks
 * its references and writes the manifest, its references and its tags in one transaction, so a
 * crash never leaves a manifest or a tag pointing at something missing.
 *
 * Listing methods take a page: entries strictly after `last` in byte-wise lexical order, at
 * most `limit` of them.
 *
 * Mutating methods the registry makes changes through take optional `events` (EventStore): they
 * are appended to the outbox in the change's own transaction, and only when the change happened
 * (the method resolved true, `ok`, a size, or a non-empty list), so an acknowledged change never
 * loses its event and a refused one records none. Without `events` nothing is recorded.
 */
export interface MetadataStore extends LifecycleStore, RetentionStore, UsageStore, EventStore, SupplyStore, BrowseStore {
  repositoryExists(name: string): Promise<boolean>;
  /**
   * Creates an empty repository (no blobs, manifests or tags), as `berth migrate` copies one;
   * resolves false, changing nothing, when it exists. Pushes create repositories on their own.
   */
  createRepository(name: string): Promise<boolean>;
  listRepositories(page: Page): Promise<string[]>;
  /**
   * Repositories with how many tags and manifests each holds, by name (byte-wise), paged like
   * listRepositories. With `namespace`, only the repository named exactly so and those under
   * `namespace/` (a repository's namespace is its first path segment).
   */
  listRepositorySummaries(page: Page, namespace?: string): Promise<RepositorySummary[]>;
  /**
   * Deletes repository `repo` whole in one transaction: its tags, its manifests with their
   * references, its blob links, then the repository row, so it leaves the catalog. Blob rows and
   * bytes stay: a blob no other repository links or references is left for garbage collection to
   * sweep, under its usual re-checks. Upload sessions of `repo` are not touched; one that completes
   * later links into a new, empty repository of that name, as any push after the delete would.
   *
   * `options.isProtected` is asked, inside the transaction, about each tag of `repo`; when it
   * answers true for one, nothing is deleted and that tag is returned. Pushes to `repo` running at
   * the same time are serialised with the delete (on PostgreSQL they hold the repository row
   * `FOR KEY SHARE`, the delete takes it `FOR UPDATE`): one that commits first is deleted with the
   * repository, one that commits after finds its blob links gone (`missingBlob`) or recreates
   * the repository.
   */
  deleteRepository(repo: string, options?: DeleteRepositoryOptions): Promise<DeleteRepositoryResult>;

  /** The blob's size when `repo` links it, else undefined. */
  getBlobLink(repo: string, digest: Digest): Promise<{ size: number } | undefined>;
  /** The blob's size when any repository links it (or linked it and GC has not swept it yet). */
  getBlob(digest: Digest): Promise<{ size: number } | undefined>;
  /** Removes `repo`'s link to a blob; the bytes stay for GC. Resolves false when there was no link. */
  unlinkBlob(repo: string, digest: Digest): Promise<boolean>;

  /**
   * Stores a manifest in `repo` and points `tags` at it, in one transaction, after checking
   * inside that transaction that every digest in `record.blobs` is linked to `repo` and every
   * digest in `record.children` is a manifest of `repo`. On a missing reference nothing is written
   * and the first missing digest is returned. Storing a manifest that exists already only moves tags.
   *
   * `options.immutableTags` (a subset of `tags`) are checked in the same transaction: when one of
   * them already points at a different manifest, nothing is written and that tag is returned, so
   * two concurrent pushes to a new immutable tag cannot both win. Pointing it at the manifest it
   * already names (an identical re-push) is allowed.
   */
  putManifest(
    repo: string,
    record: ManifestRecord,
    tags: readonly string[],
    options?: PutManifestOptions,
  ): Promise<PutManifestResult>;
  getManifest(repo: string, digest: Digest): Promise<StoredManifest | undefined>;
  getManifestByTag(repo: string, tag: string): Promise<StoredManifest | undefined>;
  /**
   * Deletes a manifest and every tag of `repo` that points at it. Resolves false when absent.
   * `events` are recorded with the delete when it happened.
   */
  deleteManifest(repo: string, digest: Digest, events?: readonly EventRecord[]): Promise<boolean>;
  /** Deletes one tag; the manifest stays. Resolves false when absent. `events` are recorded with the delete when it happened. */
  deleteTag(repo: string, tag: string, events?: readonly EventRecord[]): Promise<boolean>;
  listTags(repo: string, page: Page): Promise<string[]>;
  /** Manifests of `repo` whose `subject` is `subject`, optionally only those of one artifact type, by digest. */
  listReferrers(repo: string, subject: Digest, artifactType?: string): Promise<ReferrerRecord[]>;
  /**
   * Manifests of `repo` that list `digest` as a child (the indexes a platform manifest belongs to), by digest.
   * A signature on such an index vouches for its children, which clients then fetch by digest.
   */
  listParentManifests(repo: string, digest: Digest): Promise<Digest[]>;

  /** Blobs linked to `repo` with their sizes, by digest (for migration and garbage collection). */
  listBlobLinks(repo: string, page: Page): Promise<{ digest: Digest; size: number }[]>;
  /** Manifests of `repo`, exact bytes included, by digest. */
  listManifests(repo: string, page: Page): Promise<StoredManifest[]>;
  /** Tags of `repo` with the manifest digest each points at, by tag name. */
  listTagDigests(repo: string, page: Page): Promise<{ tag: string; digest: Digest }[]>;

  createUpload(session: UploadSession): Promise<void>;
  getUpload(id: string): Promise<UploadSession | undefined>;
  /** Records activity on an upload, pushing its expiry back. */
  touchUpload(id: string, updatedAt: number): Promise<void>;
  deleteUpload(id: string): Promise<void>;
  /** Sessions with no activity since `before` (epoch ms), oldest first, at most `limit`. */
  listStaleUploads(before: number, limit: number): Promise<UploadSession[]>;

  /** Checks the database answers (for `/readyz`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}


export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  /** The manifest exactly as pushed. */
  content: Buffer;
  artifactType?: string;
  subject?: Digest;
  annotations?: Record<string, string>;
  /** Blobs this manifest needs (config and layers), each of which must be linked to the repository. */
  blobs: readonly Digest[];
  /** Manifests this index lists, each of which must be stored in the repository. */
  children: readonly Digest[];
}

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  content: Buffer;
  subject?: Digest;
  createdAt: number;
}

export interface PutManifestOptions {
  /** Tags that may be created or re-pointed at the same manifest, but never moved elsewhere. */
  immutableTags?: readonly string[];
  /** Recorded in the same transaction when the result is `ok` (an identical re-push included), never on a refusal. */
  events?: readonly EventRecord[];
  /**
   * Store the manifest without checking that its blobs and child manifests are in the repository:
   * a pull-through cache stores what it fetched and fetches what it references only when that is
   * pulled (one platform of an index, a layer when a client asks for it).
   */
  lazyReferences?: boolean;
}

export type PutManifestResult =
  | { ok: true; created: boolean }
  | { ok: false; missingBlob: Digest }
  | { ok: false; missingManifest: Digest }
  | { ok: false; immutableTag: string };

export interface RepositorySummary {
  name: string;
  tags: number;
  manifests: number;
}

export interface DeleteRepositoryOptions {
  /** A tag that must not be deleted (an immutable one); called synchronously inside the transaction. */
  isProtected?: (tag: string) => boolean;
  /** Recorded in the same transaction when the repository was deleted (`ok`). */
  events?: readonly EventRecord[];
}

export type DeleteRepositoryResult =
  | { ok: true; tags: number; manifests: number; links: number }
  | { ok: false; missing: true }
  | { ok: false; protectedTag: string };

export interface ReferrerRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface UploadSession {
  id: string;
  repository: string;
  /** Algorithm the client asked for at POST (`?digest-algorithm=`), sha256 by default. */
  algorithm: DigestAlgorithm;
  createdAt: number;
  updatedAt: number;
}
