import { createRegistryClient, type Credentials, type ManifestAnswer, type RegistryClient } from "../../src/client/registry-client.js";
import type { Digest } from "../../src/oci/digest.js";
import type { TestImage } from "./fixtures.js";

/**
 * Pushing and pulling in tests and benchmarks, through Berth's one registry client (src/client):
 * each helper opens a client on `url`, does its work and closes it. Tests that need more
 * (credentials kept across calls, chunked or streamed pushes, mounts, the errors) use clientOf.
 * Raw upload-session steps, for tests of the sessions themselves, are in upload-session.ts.
 */

/** A client of the registry at `url` (close() it when done). */
export function clientOf(url: string, credentials?: Credentials): RegistryClient {
  return createRegistryClient({ url, timeoutMs: 30_000, userAgent: "berth-tests", ...(credentials ? { credentials } : {}) });
}

/** Runs `work` with a fresh client on `url`, closing it afterwards. */
export async function withClient<T>(url: string, work: (client: RegistryClient) => Promise<T>, credentials?: Credentials): Promise<T> {
  const client = clientOf(url, credentials);
  try {
    return await work(client);
  } finally {
    client.close();
  }
}

/** Pushes `data` as a blob of `repo` (unless the registry has it); resolves its digest. */
export function pushBlob(url: string, repo: string, data: Buffer): Promise<string> {
  return withClient(url, (c) => c.pushBlob(repo, data));
}

/** PUTs a manifest under `ref` (a tag or its digest); resolves the digest the registry answered. */
export function pushManifest(url: string, repo: string, ref: string, body: Buffer, mediaType: string): Promise<string> {
  return withClient(url, (c) => c.putManifest(repo, ref, body, mediaType));
}

/** Pushes a test image's layers and config, then its manifest under `ref`; resolves the manifest digest. */
export async function pushImage(client: RegistryClient, repo: string, ref: string, image: TestImage): Promise<string> {
  for (const layer of image.layers) await client.pushBlob(repo, layer);
  await client.pushBlob(repo, image.config);
  return client.putManifest(repo, ref, image.manifest, image.manifestMediaType);
}

/** A blob's bytes, checked against the digest; undefined when the registry answers 404. */
export function pullBlob(url: string, repo: string, digest: string): Promise<Buffer | undefined> {
  return withClient(url, (c) => c.blobContent(repo, digest as Digest));
}

/** A manifest by tag or digest (its bytes, digest and media type, checked); undefined on 404. */
export function pullManifest(url: string, repo: string, ref: string): Promise<ManifestAnswer | undefined> {
  return withClient(url, (c) => c.manifest(repo, ref));
}
