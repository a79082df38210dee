import { Readable } from "node:stream";
import { digestAlgorithm, digestOf, EMPTY_JSON, EMPTY_JSON_DIGEST, type Digest } from "../oci/digest.js";
import { RegistryError } from "../oci/errors.js";
import { parseManifest, type ParsedManifest } from "../oci/manifest.js";
import { isNonDistributable } from "../oci/media-types.js";
import { parseTag, type Reference } from "../oci/reference.js";
import { createTagRules, immutableDeleteError, immutableMoveError } from "../oci/tag-rules.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { ManifestRecord, MetadataStore, StoredManifest } from "../storage/metadata-store.js";
import type { RegistryOptions } from "./options.js";
import { eachItem } from "./paging.js";
import type { Quotas } from "./quotas.js";
import type { Uploads } from "./uploads.js";
import type { DomainEvent, EventLog, Origin } from "./events.js";

export interface PutManifestInput {
  reference: Reference;
  content: Buffer;
  contentType?: string;
  /** Extra tags from `?tag=` (spec main), applied with the manifest in one transaction. */
  tags?: readonly string[];
  /** Who pushes (the events' actor and request). */
  origin?: Origin;
  /**
   * Content a pull-through cache fetched from its upstream: stored although the blobs and child
   * manifests it references are not here yet (they are fetched when pulled), and the tag rules
   * do not apply (the upstream decides its tags).
   */
  fromUpstream?: boolean;
}

export interface PutManifestOutcome {
  digest: Digest;
  subject?: Digest;
  /** Every tag now pointing at the manifest because of this push. */
  tags: string[];
  /** Set once the repository or its namespace is past a quota's warning threshold (for the `Berth-Quota-Warning` header). */
  quotaWarning?: string;
}

/**
 * Decides whether a pushed manifest may be stored (secret scanning under a `block` policy): resolves
 * to let it in, rejects (a RegistryError, DENIED) to refuse it, in which case nothing is stored.
 * Called after the manifest is parsed and its tags checked, before quotas; never for content a
 * pull-through cache fetched. An index is admitted as is: its children were admitted when pushed.
 */
export type PushAdmission = (push: { repository: string; digest: Digest; manifest: ParsedManifest; origin?: Origin | undefined }) => Promise<void>;

export interface Manifests {
  put(repo: string, input: PutManifestInput): Promise<PutManifestOutcome>;
  /** Rejects with MANIFEST_UNKNOWN when absent. */
  get(repo: string, reference: Reference): Promise<StoredManifest>;
  /** By digest removes the manifest and its tags; by tag removes the tag only. */
  delete(repo: string, reference: Reference, origin?: Origin): Promise<void>;
}

/**
 * What the metadata store keeps of a parsed manifest. Non-distributable layers with URLs are not
 * required to be in the registry, so they are not references.
 */
export function manifestRecord(digest: Digest, content: Buffer, parsed: ParsedManifest): ManifestRecord {
  const required = parsed.blobs.filter((d) => !(isNonDistributable(d.mediaType) && d.urls?.length));
  return {
    digest,
    mediaType: parsed.mediaType,
    content,
    ...(parsed.artifactType !== undefined ? { artifactType: parsed.artifactType } : {}),
    ...(parsed.subject ? { subject: parsed.subject.digest } : {}),
    ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
    blobs: [...new Set(required.map((d) => d.digest))],
    children: [...new Set(parsed.manifests.map((d) => d.digest))],
  };
}

function manifestUnknown(reference: Reference): RegistryError {
  return new RegistryError(
    "MANIFEST_UNKNOWN",
    undefined,
    reference.kind === "tag" ? { tag: reference.tag } : { digest: reference.digest },
  );
}

export function createManifests(
  blobs: BlobStore,
  metadata: MetadataStore,
  uploads: Uploads,
  options: RegistryOptions,
  events: EventLog,
  quotas?: Quotas,
  admitPush?: PushAdmission,
): Manifests {
  const tagRules = createTagRules(options.tagRules);

  /**
   * Refuses deleting an immutable tag, or a manifest an immutable tag points at. Checked before the
   * delete rather than inside its transaction: an immutable tag never moves, so what it points at
   * cannot change under us. The one race left is a push creating an immutable tag on this very
   * manifest while it is deleted by digest; the delete may then win and take the new tag with it,
   * which is no worse than the delete arriving a moment later than the push's answer.
   */
  async function refuseImmutableDelete(repo: string, reference: Reference): Promise<void> {
    if (tagRules.empty) return;
    if (reference.kind === "tag") {
      const rule = tagRules.immutableRule(repo, reference.tag);
      if (rule && (await metadata.getManifestByTag(repo, reference.tag))) throw immutableDeleteError(reference.tag, rule);
      return;
    }
    for await (const { tag, digest } of eachItem((page) => metadata.listTagDigests(repo, page), (t) => t.tag)) {
      const rule = digest === reference.digest ? tagRules.immutableRule(repo, tag) : undefined;
      if (rule) throw immutableDeleteError(tag, rule, reference.digest);
    }
  }

  /** Artifacts use the 2-byte empty JSON as config; Berth supplies it rather than fail clients that skip it. */
  async function ensureEmptyJson(repo: string): Promise<void> {
    if (await metadata.getBlobLink(repo, EMPTY_JSON_DIGEST)) return;
    if (await uploads.linkExisting(repo, EMPTY_JSON_DIGEST)) return;
    await uploads.putWhole(repo, EMPTY_JSON_DIGEST, Readable.from([EMPTY_JSON]));
  }

  return {
    async put(repo, { reference, content, contentType, tags = [], origin, fromUpstream = false }) {
      if (content.length > options.maxManifestSize) {
        throw new RegistryError("SIZE_INVALID", `manifest exceeds ${options.maxManifestSize} bytes`, {
          size: content.length,
          limit: options.maxManifestSize,
        }, { status: 413 });
      }
      const parsed = parseManifest(content, contentType);
      let digest: Digest;
      const allTags = new Set(tags.map(parseTag));
      if (reference.kind === "digest") {
        digest = digestOf(content, digestAlgorithm(reference.digest));
        if (digest !== reference.digest) {
          throw new RegistryError("DIGEST_INVALID", "manifest digest does not match the reference", {
            expected: reference.digest,
            actual: digest,
          });
        }
      } else {
        digest = digestOf(content);
        allTags.add(reference.tag);
      }
      const immutable = new Map<string, string>();
      for (const tag of fromUpstream ? [] : allTags) {
        tagRules.checkName(repo, tag);
        const rule = tagRules.immutableRule(repo, tag);
        if (rule) immutable.set(tag, rule);
      }
      if (admitPush && !fromUpstream) await admitPush({ repository: repo, digest, manifest: parsed, origin });
      const record = manifestRecord(digest, content, parsed);
      if (record.blobs.includes(EMPTY_JSON_DIGEST) && !fromUpstream) await ensureEmptyJson(repo);
      if (quotas?.enabled) {
        // Its blobs new to the scope plus its own bytes (none when only tags move).
        const stored = await metadata.getManifest(repo, digest);
        const sizes = parsed.blobs.filter((d) => record.blobs.includes(d.digest)).map((d) => ({ digest: d.digest, size: d.size }));
        await quotas.check(repo, { bytes: stored ? 0 : content.length, blobs: sizes }, origin);
      }
      const target = { digest, mediaType: parsed.mediaType, size: content.length };
      const changes: DomainEvent[] = [
        events.event("manifest.pushed", {
          repository: repo,
          target: { ...target, tags: [...allTags] },
          ...(parsed.subject || parsed.artifactType ? { detail: { ...(parsed.subject ? { subject: parsed.subject.digest } : {}), ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}) } } : {}),
        }, origin),
        ...[...allTags].map((tag) => events.event("tag.moved", { repository: repo, target: { ...target, tag } }, origin)),
      ];
      const result = await metadata.putManifest(repo, record, [...allTags], {
        immutableTags: [...immutable.keys()],
        events: events.forStore(changes),
        ...(fromUpstream ? { lazyReferences: true } : {}),
      });
      if (!result.ok) {
        if ("immutableTag" in result) throw immutableMoveError(result.immutableTag, immutable.get(result.immutableTag)!);
        if ("missingBlob" in result) {
          throw new RegistryError("MANIFEST_BLOB_UNKNOWN", `blob ${result.missingBlob} is unknown to the repository`, {
            digest: result.missingBlob,
          });
        }
        throw new RegistryError("MANIFEST_UNKNOWN", `manifest ${result.missingManifest} is unknown to the repository`, {
          digest: result.missingManifest,
        }, { status: 400 });
      }
      await events.published(changes);
      const quotaWarning = quotas?.warning(repo);
      return {
        digest,
        ...(parsed.subject ? { subject: parsed.subject.digest } : {}),
        tags: [...allTags],
        ...(quotaWarning !== undefined ? { quotaWarning } : {}),
      };
    },

    async get(repo, reference) {
      const found =
        reference.kind === "tag"
          ? await metadata.getManifestByTag(repo, reference.tag)
          : await metadata.getManifest(repo, reference.digest);
      if (!found) throw manifestUnknown(reference);
      return found;
    },

    async delete(repo, reference, origin) {
      if (!options.deleteEnabled) throw new RegistryError("UNSUPPORTED", "deletion is disabled on this registry");
      await refuseImmutableDelete(repo, reference);
      const change =
        reference.kind === "tag"
          ? events.event("tag.deleted", { repository: repo, target: { tag: reference.tag } }, origin)
          : events.event("manifest.deleted", { repository: repo, target: { digest: reference.digest } }, origin);
      const recorded = events.forStore([change]);
      const deleted =
        reference.kind === "tag"
          ? await metadata.deleteTag(repo, reference.tag, recorded)
          : await metadata.deleteManifest(repo, reference.digest, recorded);
      if (!deleted) throw manifestUnknown(reference);
      await events.published([change]);
    },
  };
}
