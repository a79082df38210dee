import type { BlobStore } from "../storage/blob-store.js";
import type { MetadataStore } from "../storage/metadata-store.js";
import { createBlobs, type Blobs } from "./blobs.js";
import { createGarbageCollector, type GarbageCollector } from "./gc.js";
import { createListing, type Listing } from "./listing.js";
import { createBrowse, type Browse } from "./browse.js";
import { createManifests, type Manifests, type PushAdmission } from "./manifests.js";
import { DEFAULT_REGISTRY_OPTIONS, type RegistryOptions } from "./options.js";
import { createQuotas, type Quotas } from "./quotas.js";
import { createUsageReports, type UsageReports } from "./usage.js";
import { createPullTracker, type PullTracker } from "./pull-tracker.js";
import { createRetention, type Retention } from "./retention.js";
import { createUploads, type Uploads } from "./uploads.js";
import { createEventLog, type EventLog } from "./events.js";

/**
 * The registry's rules over its two stores. Repository names, tags and digests reaching it are
 * already validated (the HTTP router parses them with `oci/reference`); everything else a client
 * can get wrong is checked here and reported as a RegistryError.
 */
export interface Registry {
  readonly options: RegistryOptions;
  readonly blobs: Blobs;
  readonly uploads: Uploads;
  readonly manifests: Manifests;
  readonly listing: Listing;
  /** What the web UI lists: repositories and tags with their numbers (registry/browse.ts). */
  readonly browse: Browse;
  readonly gc: GarbageCollector;
  /** Storage quotas, checked before pushes (registry/quotas.ts). */
  readonly quotas: Quotas;
  /** Storage usage per repository, namespace and registry (registry/usage.ts). */
  readonly usage: UsageReports;
  /** Retention rules applied on demand or on a schedule (registry/retention.ts). */
  readonly retention: Retention;
  /** The one event path: every change, pull and run of this registry goes through it (registry/events.ts). */
  readonly events: EventLog;
  /** Pulls by tag, recorded for retention's `keepWithin`. */
  readonly pulls: PullTracker;
  /** The stores underneath, for maintenance that works below the registry's rules (migration, checks). */
  readonly stores: { readonly blobStore: BlobStore; readonly metadataStore: MetadataStore };
  /** Asks both stores to answer (for `/readyz`): the failing ones by name (`metadata`, `blobs`) with why; empty when both answer. */
  ping(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export interface RegistryDeps {
  blobStore: BlobStore;
  metadataStore: MetadataStore;
  options?: Partial<RegistryOptions>;
  /** Where events go; by default a log over the metadata store's outbox with no endpoint wanting pulls. */
  events?: EventLog;
  /** Asked before each manifest push is stored (registry/manifests.ts PushAdmission); may refuse it. */
  admitPush?: PushAdmission;
}

export function createRegistry({ blobStore, metadataStore, options: overrides, events = createEventLog({ store: metadataStore }), admitPush }: RegistryDeps): Registry {
  const options = { ...DEFAULT_REGISTRY_OPTIONS, ...overrides };
  const quotas = createQuotas(metadataStore, options.quotas, events);
  const uploads = createUploads(blobStore, metadataStore, options, events, quotas);
  const pulls = createPullTracker(metadataStore, events);
  return {
    options,
    events,
    blobs: createBlobs(blobStore, metadataStore, options, events),
    uploads,
    manifests: createManifests(blobStore, metadataStore, uploads, options, events, quotas, admitPush),
    listing: createListing(metadataStore, options),
    browse: createBrowse(metadataStore, blobStore, options.tagRules, quotas),
    gc: createGarbageCollector(blobStore, metadataStore, uploads, options.gc, events),
    retention: createRetention(metadataStore, options.retention, options.tagRules, events),
    pulls,
    quotas,
    usage: createUsageReports(metadataStore, quotas),
    stores: { blobStore, metadataStore },
    async ping() {
      const [metadata, blobs] = await Promise.allSettled([metadataStore.ping(), blobStore.ping()]);
      const failing: Record<string, string> = {};
      for (const [store, result] of [["metadata", metadata], ["blobs", blobs]] as const) {
        if (result.status === "rejected") failing[store] = result.reason instanceof Error ? result.reason.message : String(result.reason);
      }
      return failing;
    },
    async close() {
      await pulls.settled();
      await metadataStore.close();
      await blobStore.close();
    },
  };
}
