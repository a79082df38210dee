import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { ZodError } from "zod";
import { configSchema, type Config } from "./schema.js";

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
  BERTH_STORAGE_PATH: "storage.path",
  BERTH_FSYNC: "storage.fsync",
  BERTH_DATABASE_PATH: "database.path",
  BERTH_UPLOAD_EXPIRY: "uploads.expiry",
  BERTH_UPLOAD_PURGE_INTERVAL: "uploads.purgeInterval",
  BERTH_MANIFEST_MAX_SIZE: "manifests.maxSize",
  BERTH_DELETE_ENABLED: "delete.enabled",
  BERTH_ANONYMOUS_MOUNT: "mount.anonymous",
  BERTH_MAX_PAGE_SIZE: "pagination.maxEntries",
  BERTH_SHUTDOWN_TIMEOUT: "shutdown.timeout",
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
    parsed = parseYaml(text);
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

/** Loads configuration with precedence flags > environment > file > defaults, validated once. */
export function loadConfig({ file, env = process.env, overrides = {} }: LoadConfigOptions = {}): Config {
  const path = file ?? env.BERTH_CONFIG;
  const tree: Tree = path ? readFile(path) : {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    setPath(tree, key, key === "pagination.maxEntries" ? Number(value) : value);
  }
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) setPath(tree, key, value);
  try {
    const config = configSchema.parse(tree);
    config.data = resolve(config.data);
    return config;
  } catch (err) {
    if (err instanceof ZodError) {
      const problems = err.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n");
      throw new ConfigError(`invalid configuration${path ? ` (${path})` : ""}:\n${problems}`);
    }
    throw err;
  }
}
