import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { lazyRequire } from "../lazy-require.js";
import { ZodError } from "zod";
import { maskedUrl } from "./masked-url.js";
import { configSchema, type Config } from "./schema.js";
import { webhookSecretKey } from "./webhook-secret.js";

/** Only a config or rules file needs it: not loaded by a server configured from the environment. */
const yaml = lazyRequire<typeof import("yaml")>("yaml");

/** Thrown for any configuration problem; the message is meant for the operator as is. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Tree = Record<string, unknown>;

/** Environment variables and the config key each one sets. */
export const ENV_KEYS: Record<string, string> = {
  BERTH_LISTEN: "listen",
  BERTH_DATA: "data",
  BERTH_LOG_LEVEL: "log.level",
  BERTH_STORAGE_DRIVER: "storage.driver",
  BERTH_STORAGE_PATH: "storage.path",
  BERTH_FSYNC: "storage.fsync",
  BERTH_S3_BUCKET: "storage.s3.bucket",
  BERTH_S3_REGION: "storage.s3.region",
  BERTH_S3_ENDPOINT: "storage.s3.endpoint",
  BERTH_S3_ACCESS_KEY: "storage.s3.accessKey",
  BERTH_S3_SECRET_KEY: "storage.s3.secretKey",
  BERTH_S3_FORCE_PATH_STYLE: "storage.s3.forcePathStyle",
  BERTH_S3_PREFIX: "storage.s3.prefix",
  BERTH_S3_REDIRECT: "storage.s3.redirect",
  BERTH_S3_CONNECT_TIMEOUT: "storage.s3.connectTimeout",
  BERTH_S3_TIMEOUT: "storage.s3.timeout",
  BERTH_DATABASE_DRIVER: "database.driver",
  BERTH_DATABASE_PATH: "database.path",
  BERTH_DATABASE_URL: "database.url",
  BERTH_DATABASE_POOL_SIZE: "database.poolSize",
  BERTH_DATABASE_CONNECT_TIMEOUT: "database.connectTimeout",
  BERTH_DATABASE_QUERY_TIMEOUT: "database.queryTimeout",
  BERTH_UPLOAD_EXPIRY: "uploads.expiry",
  BERTH_UPLOAD_PURGE_INTERVAL: "uploads.purgeInterval",
  BERTH_MANIFEST_MAX_SIZE: "manifests.maxSize",
  BERTH_METRICS_STORAGE_REFRESH: "metrics.storageRefresh",
  BERTH_UI: "ui.enabled",
  BERTH_UI_SESSION_TTL: "ui.sessionTtl",
  BERTH_SBOMS: "sboms.enabled",
  BERTH_GC_SCHEDULE: "gc.schedule",
  BERTH_GC_GRACE: "gc.grace",
  BERTH_GC_DELETE_UNTAGGED: "gc.deleteUntagged",
  BERTH_RETENTION_SCHEDULE: "retention.schedule",
  BERTH_DELETE_ENABLED: "delete.enabled",
  BERTH_ANONYMOUS_MOUNT: "mount.anonymous",
  BERTH_MAX_PAGE_SIZE: "pagination.maxEntries",
  BERTH_SHUTDOWN_TIMEOUT: "shutdown.timeout",
  BERTH_HEADER_TIMEOUT: "limits.headerTimeout",
  BERTH_IDLE_TIMEOUT: "limits.idleTimeout",
  BERTH_MIN_TRANSFER_RATE: "limits.minTransferRate",
  BERTH_TRANSFER_RATE_WINDOW: "limits.transferRateWindow",
  BERTH_MAX_CONNECTIONS: "limits.maxConnections",
  BERTH_ACCEPT_HANDLES: "limits.acceptHandles",
  BERTH_MAX_UPLOADS: "limits.maxUploads",
  BERTH_RATE_PER_ADDRESS: "limits.rate.perAddress",
  BERTH_RATE_PER_USER: "limits.rate.perUser",
  BERTH_RATE_BURST: "limits.rate.burst",
  BERTH_AUTH: "auth.enabled",
  BERTH_AUTH_SERVICE: "auth.service",
  BERTH_AUTH_TOKEN_TTL: "auth.tokenTtl",
  BERTH_AUTH_REALM: "auth.realm",
  BERTH_AUTH_BASIC: "auth.basic",
  BERTH_DEFAULT_VISIBILITY: "auth.defaultVisibility",
  BERTH_ADMIN_PASSWORD: "auth.adminPassword",
  BERTH_INITIAL_PASSWORD_FILE: "auth.initialPasswordFile",
  BERTH_ALLOW_ANONYMOUS_PUSH: "auth.allowAnonymousPush",
  BERTH_TLS_CERT: "tls.cert",
  BERTH_TLS_KEY: "tls.key",
};

function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Tree;
  }
  node[keys[keys.length - 1]!] = value;
}

function readFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = yaml().parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must be a mapping`);
  return parsed as Tree;
}

export interface LoadConfigOptions {
  /** Path of a YAML/JSON file; BERTH_CONFIG is used when absent. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from the command line, by config key path (`listen`, `log.level`), which win over everything. */
  overrides?: Record<string, unknown>;
}

const NUMERIC_KEYS = new Set(["pagination.maxEntries", "database.poolSize", "limits.maxConnections", "limits.acceptHandles", "limits.maxUploads", "limits.rate.burst"]);

/** Settings that may hold secrets: `X_FILE` in the environment (or `xFile` in the file) reads them from a file. */
const SECRET_ENV = ["BERTH_S3_ACCESS_KEY", "BERTH_S3_SECRET_KEY", "BERTH_DATABASE_URL", "BERTH_ADMIN_PASSWORD"];

function readSecret(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`cannot read ${what} from ${path}: ${(err as Error).message}`);
  }
}

/** Fills secrets from their files and decides the database driver. */
function finish(parsed: ReturnType<typeof configSchema.parse>): Config {
  const s3 = parsed.storage.s3;
  if (s3.accessKeyFile && !s3.accessKey) s3.accessKey = readSecret(s3.accessKeyFile, "storage.s3.accessKey");
  if (s3.secretKeyFile && !s3.secretKey) s3.secretKey = readSecret(s3.secretKeyFile, "storage.s3.secretKey");
  const auth = parsed.auth;
  if (auth.adminPasswordFile && !auth.adminPassword) auth.adminPassword = readSecret(auth.adminPasswordFile, "auth.adminPassword");
  parsed.notifications.endpoints.forEach((e, i) => {
    if (!e.secretFile) return;
    const what = `notifications.endpoints[${i}].secret`;
    e.secret = readSecret(e.secretFile, what);
    const checked = webhookSecretKey(e.secret);
    if ("problem" in checked) throw new ConfigError(`invalid configuration:\n  ${what} (from ${e.secretFile}): ${checked.problem}`);
  });
  const db = parsed.database;
  parsed.proxy.upstreams.forEach((u, i) => {
    if (u.passwordFile && !u.password) u.password = readSecret(u.passwordFile, `proxy.upstreams[${i}].password`);
  });
  if (db.urlFile && !db.url) db.url = readSecret(db.urlFile, "database.url");
  const driver = db.driver ?? (db.url ? "postgres" : "sqlite");
  if (driver === "postgres" && !/^postgres(ql)?:\/\//.test(db.url ?? "")) {
    throw new ConfigError("invalid configuration:\n  database.url: a postgres:// URL is required when database.driver is postgres");
  }
  parsed.data = resolve(parsed.data);
  const enabled = { enabled: auth.enabled ?? false, enabledExplicitly: auth.enabled !== undefined };
  return { ...parsed, database: { ...db, driver }, auth: { ...auth, ...enabled } };
}

const sources = new WeakMap<Config, Tree>();

/**
 * What was written to make `config` (the file's tree with the environment and flags laid over
 * it, before validation), so `berth config` can show a value as it was written; undefined for a
 * configuration loadConfig did not make.
 */
export function configSource(config: Config): Readonly<Tree> | undefined {
  return sources.get(config);
}

/** A copy of `config` safe to print: keys, passwords, webhook secrets and webhook header values masked. */
export function redactConfig(config: Config): Config {
  const mask = (v: string | undefined) => (v === undefined ? undefined : "********");
  const s3 = { ...config.storage.s3, accessKey: mask(config.storage.s3.accessKey), secretKey: mask(config.storage.s3.secretKey) };
  let url = config.database.url;
  if (url) {
    try {
      const u = new URL(url);
      if (u.password) u.password = "********";
      url = u.toString();
    } catch {
      url = "********";
    }
  }
  return {
    ...config,
    storage: { ...config.storage, s3 },
    database: { ...config.database, ...(url ? { url } : {}) },
    auth: { ...config.auth, adminPassword: mask(config.auth.adminPassword) },
    proxy: { ...config.proxy, upstreams: config.proxy.upstreams.map((u) => ({ ...u, password: u.passwordFile ? undefined : mask(u.password) })) },
    notifications: {
      ...config.notifications,
      endpoints: config.notifications.endpoints.map((e) => ({
        ...e,
        url: maskedUrl(e.url),
        // Read from secretFile: the file is what was configured, so the secret is not shown at all.
        secret: e.secretFile ? undefined : mask(e.secret),
        headers: Object.fromEntries(Object.keys(e.headers).map((name) => [name, "********"])),
      })),
    },
  };
}

/** Loads configuration with precedence flags > environment > file > defaults, validated once. */
export function loadConfig({ file, env = process.env, overrides = {} }: LoadConfigOptions = {}): Config {
  const path = file ?? env.BERTH_CONFIG;
  const tree: Tree = path ? readFile(path) : {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    let value = env[name];
    const file = env[`${name}_FILE`];
    if ((value === undefined || value === "") && file && SECRET_ENV.includes(name)) value = readSecret(file, name);
    if (value === undefined || value === "") continue;
    setPath(tree, key, NUMERIC_KEYS.has(key) ? Number(value) : value);
  }
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) setPath(tree, key, value);
  try {
    const config = finish(configSchema.parse(structuredClone(tree)));
    sources.set(config, tree);
    return config;
  } catch (err) {
    if (err instanceof ZodError) {
      const problems = err.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n");
      throw new ConfigError(`invalid configuration${path ? ` (${path})` : ""}:\n${problems}`);
    }
    throw err;
  }
}
