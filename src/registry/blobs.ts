import { Readable } from "node:stream";
import type { Digest } from "../oci/digest.js";
import { RegistryError } from "../oci/errors.js";
import type { ByteRange } from "../oci/range.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { MetadataStore } from "../storage/metadata-store.js";
import type { RegistryOptions } from "./options.js";
import type { EventLog, Origin } from "./events.js";

export interface BlobBody {
  size: number;
  stream: Readable;
}

/** Reading and unlinking the blobs of a repository. */
export interface Blobs {
  /** The size of a blob linked to `repo` (a manifest of `repo` counts too); BLOB_UNKNOWN otherwise. */
  stat(repo: string, digest: Digest): Promise<{ size: number }>;
  /** Opens a blob of `repo`, whole or the inclusive `range` (which the caller checked against the size). */
  open(repo: string, digest: Digest, range?: ByteRange): Promise<BlobBody>;
  /**
   * A URL the client may fetch the blob from directly when the store offers one (a presigned
   * object-store URL), else undefined. Checks the blob belongs to `repo` first.
   */
  redirectUrl(repo: string, digest: Digest): Promise<string | undefined>;
  /** Removes the blob from `repo` unless one of its manifests uses it (DENIED); garbage collection frees the bytes. */
  delete(repo: string, digest: Digest, origin?: Origin): Promise<void>;
}

export function createBlobs(blobs: BlobStore, metadata: MetadataStore, options: RegistryOptions, events: EventLog): Blobs {
  const unknown = (digest: Digest) => new RegistryError("BLOB_UNKNOWN", undefined, { digest });

  return {
    async stat(repo, digest) {
      const link = await metadata.getBlobLink(repo, digest);
      if (link) return link;
      // distribution stores manifests as blobs, and clients may fetch them through the blob route
      const manifest = await metadata.getManifest(repo, digest);
      if (manifest) return { size: manifest.content.length };
      throw unknown(digest);
    },

    async open(repo, digest, range) {
      const link = await metadata.getBlobLink(repo, digest);
      if (link) return { size: link.size, stream: await blobs.read(digest, range) };
      const manifest = await metadata.getManifest(repo, digest);
      if (!manifest) throw unknown(digest);
      const bytes = range ? manifest.content.subarray(range.start, range.end + 1) : manifest.content;
      return { size: manifest.content.length, stream: Readable.from([bytes]) };
    },

    async redirectUrl(repo, digest) {
      if (!blobs.redirectUrl || !(await metadata.getBlobLink(repo, digest))) return undefined;
      return blobs.redirectUrl(digest);
    },

    async delete(repo, digest, origin) {
      if (!options.deleteEnabled) throw new RegistryError("UNSUPPORTED", "deletion is disabled on this registry");
      // Checked inside the unlink's transaction: a manifest stored meanwhile keeps its blob.
      const deleted = events.event("blob.deleted", { repository: repo, target: { digest } }, origin);
      if ((await metadata.unlinkIfUnreferenced(repo, [digest], Number.MAX_SAFE_INTEGER, events.forStore([deleted]))).length > 0) {
        await events.published([deleted]);
        return;
      }
      if (!(await metadata.getBlobLink(repo, digest))) throw unknown(digest);
      throw new RegistryError("DENIED", "a manifest of this repository uses the blob: delete the manifest first (garbage collection then frees the blob)", { digest });
    },
  };
}
