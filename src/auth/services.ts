import { mkdir, open, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { Logger } from "../logger.js";
import type { AuthStore } from "../storage/auth-store.js";
import { createAdminOps, recordAccessChange, type Actor, type AdminOps } from "./admin-ops.js";
import type { EventLog } from "../registry/events.js";
import { createAuthorizer, type Authorizer } from "./authorizer.js";
import { createLoginThrottles, type LoginThrottles } from "./credentials.js";
import { hashSecret, randomSecret } from "./passwords.js";
import { createTokenService, type TokenService } from "./tokens.js";
import { createSessionService, type SessionService } from "./sessions.js";

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
export async function ensureAdmin(store: AuthStore, events: EventLog, config: Config, logger: Logger): Promise<void> {
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
  await recordAccessChange(events, "berth", { op: "user.add", target: "admin", detail: { admin: true, firstStart: true } });
  if (given) logger.info("created the admin user with the configured password");
  else logger.warn("created the admin user with a generated password, written to a file only this user can read; log in, change it with `berth user passwd admin`, then delete the file", { file });
}

/**
 * Access control's services over one auth store, shared by the HTTP layer (guard, token endpoint,
 * management API) and the CLI: what they check and change, with none of how requests arrive.
 */
export interface AuthServices {
  readonly store: AuthStore;
  /** `auth` of the configuration: service name, realm, Basic on /v2, policies, default visibility. */
  readonly settings: Config["auth"];
  readonly tokens: TokenService;
  readonly authorizer: Authorizer;
  /** One set of login throttles, so Basic on /v2/ is no way around the token endpoint's limit on guessing. */
  readonly throttle: LoginThrottles;
  /** Where logins, issued tokens and access changes are recorded: the registry's event log. */
  readonly events: EventLog;
  /** Browser sign-ins for the web UI (`ui.sessionTtl`). */
  readonly sessions: SessionService;
  /** The administrator's operations, audited as done by `actor`. */
  adminOps(actor: Actor): AdminOps;
}

export function createAuthServices(store: AuthStore, config: Config, events: EventLog): AuthServices {
  const settings = config.auth;
  const throttle = createLoginThrottles();
  return {
    store,
    settings,
    tokens: createTokenService({ store, issuer: settings.issuer, service: settings.service, ttlSeconds: settings.tokenTtl / 1000 }),
    authorizer: createAuthorizer({ store, policies: settings.policies, defaultVisibility: settings.defaultVisibility }),
    throttle,
    events,
    sessions: createSessionService({ store, throttle, ttlMs: config.ui.sessionTtl, events }),
    adminOps: (actor) => createAdminOps(store, events, actor),
  };
}
