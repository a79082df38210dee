import { randomUUID } from "node:crypto";
import type { Digest } from "../../src/oci/digest.js";
import type { MetadataStore } from "../../src/storage/metadata-store.js";

/** Records a committed blob in `repo` the way an upload does: a session claims it, links it, ends. */
export async function addBlob(store: MetadataStore, repo: string, digest: Digest, size: number): Promise<void> {
  const id = randomUUID();
  const now = Date.now();
  await store.createUpload({ id, repository: repo, algorithm: "sha256", createdAt: now, updatedAt: now });
  if (!(await store.claimBlob(id, digest, size))) throw new Error(`${digest} is being deleted`);
  if ((await store.linkBlob(repo, digest)) === undefined) throw new Error(`${digest} did not link`);
  await store.deleteUpload(id);
}
