import { mkdir, open, rm } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { Logger } from "../logger.js";
import type { AuthStore } from "../storage/auth-store.js";
import { createLoginThrottle } from "./credentials.js";
import { hashSecret, randomSecret } from "./passwords.js";
import { createTokenService } from "./tokens.js";
import type { LoginObserver } from "./login-observer.js";
import { createTokenGuard, type Guard } from "../http/guard.js";
import { createTokenEndpoint } from "../http/handlers/token.js";
import type { AppOptions } from "../http/app.js";
import { createAdminApi } from "../http/handlers/admin-api.js";

/** Access control as configured: the guard for /v2 and the routes of the token flow. */
export interface AuthSetup {
  guard: Guard;
  app: NonNullable<AppOptions["auth"]>;
}

/** Where a generated first admin password is written: `auth.initialPasswordFile`, else `<data>/initial-admin-password`. */
export function initialPasswordPath(config: Config): string {
  return resolve(config.auth.initialPasswordFile ?? join(config.data, "initial-admin-password"));
}

/**
 * Writes `text` to `path` readable by the owner alone (0600 also when the file was there before),
 * creating at most the one missing directory above it.
 */
async function writeOwnerOnly(path: string, text: string): Promise<void> {
  await mkdir(dirname(path)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EEXIST") throw err;
  });
  const handle = await open(path, "w", 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The first start creates `admin`. Its password comes from config, or is generated and written to
 * `initialPasswordPath(config)` (mode 0600) before the user exists, so it is never lost and never
 * in a log: the log names only the file.
 */
export async function ensureAdmin(store: AuthStore, config: Config, logger: Logger): Promise<void> {
  if ((await store.listUsers()).length > 0) return;
  const given = config.auth.adminPassword;
  const password = given ?? randomSecret(18);
  const file = initialPasswordPath(config);
  if (!given) {
    try {
      await writeOwnerOnly(file, `${password}\n`);
    } catch (err) {
      throw new ConfigError(`cannot write the generated admin password to ${file}: ${(err as Error).message}; set auth.initialPasswordFile (BERTH_INITIAL_PASSWORD_FILE) to a writable path, or give one with BERTH_ADMIN_PASSWORD_FILE`);
    }
  }
  const created = await store.createUser({ name: "admin", passwordHash: await hashSecret(password), admin: true, createdAt: Date.now() });
  if (!created) {
    // Another node created admin first: its password, not this one, is the valid one.
    if (!given) await rm(file, { force: true });
    return;
  }
  await store.appendAudit({ time: Date.now(), action: "user.add", target: "admin", result: "ok", detail: { admin: true, firstStart: true } });
  if (given) logger.info("created the admin user with the configured password");
  else logger.warn("created the admin user with a generated password, written to a file only this user can read; log in, change it with `berth user passwd admin`, then delete the file", { file });
}

export function createAuthSetup(store: AuthStore, config: Config, tls: boolean, observeLogin?: LoginObserver): AuthSetup {
  const { auth } = config;
  const tokens = createTokenService({ store, issuer: auth.issuer, service: auth.service, ttlSeconds: auth.tokenTtl / 1000 });
  const realm = (req: IncomingMessage) => {
    if (auth.realm) return auth.realm;
    const forwarded = req.headers["x-forwarded-proto"];
    const proto = tls ? "https" : typeof forwarded === "string" ? forwarded.split(",")[0]!.trim() : "http";
    return `${proto}://${req.headers.host ?? "localhost"}/token`;
  };
  const throttle = { user: createLoginThrottle(5, 60_000), address: createLoginThrottle(50, 60_000) };
  const guard = createTokenGuard({
    throttle,
    ...(observeLogin ? { observeLogin } : {}),
    store,
    tokens,
    policies: auth.policies,
    defaultVisibility: auth.defaultVisibility,
    service: auth.service,
    realm,
    basic: auth.basic,
  });
  const tokenEndpoint = createTokenEndpoint({
    store,
    tokens,
    authorizer: guard.authorizer,
    throttle,
    service: auth.service,
    ...(observeLogin ? { observeLogin } : {}),
  });
  return {
    guard,
    app: {
      tokenEndpoint: (req, res, url) => tokenEndpoint(req, res, url),
      jwks: () => tokens.jwks(),
      adminApi: createAdminApi(store, guard),
      access: { store, defaultVisibility: auth.defaultVisibility },
    },
  };
}
