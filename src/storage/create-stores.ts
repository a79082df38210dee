import { join } from "node:path";
import { ConfigError } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { AuthStore } from "./auth-store.js";
import type { BlobStore } from "./blob-store.js";
import type { MetadataStore } from "./metadata-store.js";
import { StoreMissingError } from "./drivers/store-missing.js";

/**
 * Opening the stores a configuration names. Only `berth serve` and `berth migrate`'s destination
 * pass `create: true`; every other caller opens an existing registry or gets a NoRegistryError,
 * so a command run from the wrong directory never starts a second, empty registry.
 */
export interface OpenOptions {
  /** Create the registry (directories, database files, schema, bucket) when absent; default false. */
  create?: boolean;
}

/** The configured data directory or database holds no registry; the message says where it looked and how to point elsewhere. */
export class NoRegistryError extends ConfigError {
  override name = "NoRegistryError";
}

/** A URL as it may be printed: no user password, no query (which may carry one). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.search = "";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, "; ").trim();
}

function noRegistry(config: Config, where: string): NoRegistryError {
  const how =
    config.database.driver === "postgres"
      ? "point this command at the server's configuration with --config FILE (or BERTH_CONFIG, BERTH_DATABASE_URL)"
      : "point this command at the server's data directory with --data DIR, --config FILE or BERTH_DATA";
  return new NoRegistryError(`no registry at ${where} (only \`berth serve\` creates one); ${how}`);
}

/** Names the driver and its address (without secrets) in a failure to open it; a missing store is a NoRegistryError. */
async function opening<T>(config: Config, which: "metadata" | "blobs" | "auth", open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = oneLine((err as Error).message || (err as { code?: string }).code || String(err));
    const pg = which !== "blobs" && config.database.driver === "postgres";
    const s3 = which === "blobs" && config.storage.driver === "s3";
    if (err instanceof StoreMissingError) {
      if (pg) throw noRegistry(config, `PostgreSQL ${safeUrl(config.database.url!)} (${err.where} is absent)`);
      if (s3) throw noRegistry(config, `S3 ${config.storage.s3.endpoint ? safeUrl(config.storage.s3.endpoint) : "(AWS)"} ${err.where}`);
      throw noRegistry(config, err.where);
    }
    if (pg) {
      throw new ConfigError(`cannot open PostgreSQL at ${safeUrl(config.database.url!)}: ${reason}; check database.url and that the server is running and reachable`, { cause: err });
    }
    if (s3) {
      const endpoint = config.storage.s3.endpoint ? safeUrl(config.storage.s3.endpoint) : `AWS region ${config.storage.s3.region}`;
      throw new ConfigError(`cannot reach the S3 endpoint ${endpoint} (bucket ${config.storage.s3.bucket}): ${reason}; check storage.s3.endpoint, the credentials and that the service is running`, { cause: err });
    }
    throw new ConfigError(`cannot open the ${which === "blobs" ? "blob store" : "database"} under ${config.data}: ${reason}; check --data/BERTH_DATA and its permissions`, { cause: err });
  }
}

/**
 * Opens the BlobStore and MetadataStore that `config` names. The metadata decides whether a
 * registry is there; a new one is created blobs first, so an unreachable S3 endpoint leaves no
 * database file behind. Drivers are imported on demand, so the embedded default never loads the
 * AWS SDK or pg, and the scale-out setup never opens SQLite.
 */
export async function createStores(config: Config, options: OpenOptions = {}): Promise<{ blobStore: BlobStore; metadataStore: MetadataStore }> {
  const create = options.create ?? false;
  let metadataStore: MetadataStore | undefined;
  try {
    metadataStore = await opening(config, "metadata", () => createMetadataStore(config, false));
  } catch (err) {
    if (!(create && err instanceof NoRegistryError)) throw err;
  }
  const blobStore = await opening(config, "blobs", () => createBlobStore(config, create)).catch(async (err: unknown) => {
    await metadataStore?.close();
    throw err;
  });
  try {
    metadataStore ??= await opening(config, "metadata", () => createMetadataStore(config, true));
  } catch (err) {
    await blobStore.close();
    throw err;
  }
  return { blobStore, metadataStore };
}

/** The metadata store alone, of a registry that exists (commands that need the outbox but no blobs). */
export async function openMetadataStore(config: Config): Promise<MetadataStore> {
  return opening(config, "metadata", () => createMetadataStore(config, false));
}

async function createBlobStore(config: Config, create: boolean): Promise<BlobStore> {
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
      create,
      timeouts: { connectTimeoutMs: s3.connectTimeout, timeoutMs: s3.timeout },
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.accessKey ? { accessKeyId: s3.accessKey } : {}),
      ...(s3.secretKey ? { secretAccessKey: s3.secretKey } : {}),
      ...(s3.redirect ? { redirectTtlMs: s3.redirectTtl } : {}),
    });
  }
  const { createFilesystemBlobStore } = await import("./drivers/filesystem-blob-store.js");
  return createFilesystemBlobStore({ root: storage.path ?? config.data, fsync: storage.fsync, create });
}

const pgTimeouts = ({ database }: Config) => ({ connectTimeoutMs: database.connectTimeout, queryTimeoutMs: database.queryTimeout });

async function createMetadataStore(config: Config, create: boolean): Promise<MetadataStore> {
  const { database } = config;
  if (database.driver === "postgres") {
    const { createPostgresMetadataStore } = await import("./drivers/postgres-metadata-store.js");
    return createPostgresMetadataStore({ url: database.url!, poolSize: database.poolSize, create, timeouts: pgTimeouts(config) });
  }
  const { createSqliteMetadataStore } = await import("./drivers/sqlite-metadata-store.js");
  return createSqliteMetadataStore({ path: database.path ?? join(config.data, "berth.db"), fsync: config.storage.fsync, create });
}

async function openAuthStore(config: Config, create: boolean): Promise<AuthStore> {
  if (config.database.driver === "postgres") {
    const { createPostgresAuthStore } = await import("./drivers/postgres-auth-store.js");
    return createPostgresAuthStore({ url: config.database.url!, poolSize: Math.max(2, Math.floor(config.database.poolSize / 2)), create, timeouts: pgTimeouts(config) });
  }
  const { createSqliteAuthStore } = await import("./drivers/sqlite-auth-store.js");
  return createSqliteAuthStore({ path: join(config.data, "auth.db"), fsync: config.storage.fsync, create });
}

/**
 * The store of users, tokens and policies: beside the metadata (SQLite file or the same PostgreSQL
 * database). Without `create` the registry must exist (its metadata); the auth part of an existing
 * registry is still created on first use, since a registry may have run without access control.
 */
export async function createAuthStore(config: Config, options: OpenOptions = {}): Promise<AuthStore> {
  if (!options.create) await (await opening(config, "metadata", () => createMetadataStore(config, false))).close();
  return opening(config, "auth", () => openAuthStore(config, true));
}

/**
 * How many users the configured registry's access-control data holds, creating nothing: 0 when
 * there is no registry or it never had access control.
 */
export async function countUsers(config: Config): Promise<number> {
  const store = await openExistingAuthStore(config);
  if (!store) return 0;
  try {
    return (await store.listUsers()).length;
  } finally {
    await store.close();
  }
}

/**
 * The auth store `config` names when it exists already (an `auth.db` file, or the auth tables in
 * PostgreSQL), else undefined; unlike createAuthStore it never creates one, so a registry that never
 * had access control is left as it is (for reading a migration's source).
 */
export async function openExistingAuthStore(config: Config): Promise<AuthStore | undefined> {
  try {
    return await opening(config, "auth", () => openAuthStore(config, false));
  } catch (err) {
    if (err instanceof NoRegistryError) return undefined;
    throw err;
  }
}
