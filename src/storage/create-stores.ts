import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import type { AuthStore } from "./auth-store.js";
import type { BlobStore } from "./blob-store.js";
import type { MetadataStore } from "./metadata-store.js";

/**
 * Opens the BlobStore and MetadataStore that `config` names. Drivers are imported on demand, so
 * the embedded default never loads the AWS SDK or pg, and the scale-out setup never opens SQLite.
 */
export async function createStores(config: Config): Promise<{ blobStore: BlobStore; metadataStore: MetadataStore }> {
  const blobStore = await createBlobStore(config);
  try {
    return { blobStore, metadataStore: await createMetadataStore(config) };
  } catch (err) {
    await blobStore.close();
    throw err;
  }
}

async function createBlobStore(config: Config): Promise<BlobStore> {
  const { storage } = config;
  if (storage.driver === "s3") {
    const { createS3BlobStore } = await import("./drivers/s3-blob-store.js");
    const s3 = storage.s3;
    return createS3BlobStore({
      bucket: s3.bucket!,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      prefix: s3.prefix,
      createBucket: s3.createBucket,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.accessKey ? { accessKeyId: s3.accessKey } : {}),
      ...(s3.secretKey ? { secretAccessKey: s3.secretKey } : {}),
      ...(s3.redirect ? { redirectTtlMs: s3.redirectTtl } : {}),
    });
  }
  const { createFilesystemBlobStore } = await import("./drivers/filesystem-blob-store.js");
  return createFilesystemBlobStore({ root: storage.path ?? config.data, fsync: storage.fsync });
}

async function createMetadataStore(config: Config): Promise<MetadataStore> {
  const { database } = config;
  if (database.driver === "postgres") {
    const { createPostgresMetadataStore } = await import("./drivers/postgres-metadata-store.js");
    return createPostgresMetadataStore({ url: database.url!, poolSize: database.poolSize });
  }
  const { createSqliteMetadataStore } = await import("./drivers/sqlite-metadata-store.js");
  return createSqliteMetadataStore({ path: database.path ?? join(config.data, "berth.db"), fsync: config.storage.fsync });
}

/** The store of users, tokens and policies: beside the metadata (SQLite file or the same PostgreSQL database). */
export async function createAuthStore(config: Config): Promise<AuthStore> {
  if (config.database.driver === "postgres") {
    const { createPostgresAuthStore } = await import("./drivers/postgres-auth-store.js");
    return createPostgresAuthStore({ url: config.database.url!, poolSize: Math.max(2, Math.floor(config.database.poolSize / 2)) });
  }
  const { createSqliteAuthStore } = await import("./drivers/sqlite-auth-store.js");
  return createSqliteAuthStore({ path: join(config.data, "auth.db"), fsync: config.storage.fsync });
}

/**
 * The auth store `config` names when it exists already (an `auth.db` file, or the auth tables in
 * PostgreSQL), else undefined; unlike createAuthStore it never creates one, so a registry that never
 * had access control is left as it is (for reading a migration's source).
 */
export async function openExistingAuthStore(config: Config): Promise<AuthStore | undefined> {
  if (config.database.driver === "postgres") {
    const { postgresAuthSchemaExists } = await import("./drivers/postgres-auth-store.js");
    return (await postgresAuthSchemaExists(config.database.url!)) ? createAuthStore(config) : undefined;
  }
  return existsSync(join(config.data, "auth.db")) ? createAuthStore(config) : undefined;
}
