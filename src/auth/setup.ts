import type { IncomingMessage } from "node:http";
import type { Config } from "../config/schema.js";
import type { Logger } from "../logger.js";
import type { AuthStore } from "../storage/auth-store.js";
import { createLoginThrottle } from "./credentials.js";
import { hashSecret, randomSecret } from "./passwords.js";
import { createTokenService } from "./tokens.js";
import { createTokenGuard, type Guard } from "../http/guard.js";
import { createTokenEndpoint } from "../http/handlers/token.js";
import type { AppOptions } from "../http/app.js";
import { createAdminApi } from "../http/handlers/admin-api.js";

/** Access control as configured: the guard for /v2 and the routes of the token flow. */
export interface AuthSetup {
  guard: Guard;
  app: NonNullable<AppOptions["auth"]>;
}

/** The first start creates `admin`; its password comes from config or is generated and shown once. */
export async function ensureAdmin(store: AuthStore, config: Config, logger: Logger): Promise<void> {
  if ((await store.listUsers()).length > 0) return;
  const given = config.auth.adminPassword;
  const password = given ?? randomSecret(18);
  const created = await store.createUser({ name: "admin", passwordHash: await hashSecret(password), admin: true, createdAt: Date.now() });
  if (!created) return;
  await store.appendAudit({ time: Date.now(), action: "user.add", target: "admin", result: "ok", detail: { admin: true, firstStart: true } });
  if (given) logger.info("created the admin user with the configured password");
  else process.stderr.write(`\n  Berth created the user "admin" with password: ${password}\n  It is shown only this once; change it with \`berth user passwd admin\`.\n\n`);
}

export function createAuthSetup(store: AuthStore, config: Config, tls: boolean): AuthSetup {
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
  });
  return {
    guard,
    app: {
      tokenEndpoint: (req, res, url) => tokenEndpoint(req, res, url),
      jwks: () => tokens.jwks(),
      adminApi: createAdminApi(store, guard),
      audit: (event) => store.appendAudit(event),
      access: { store, defaultVisibility: auth.defaultVisibility },
    },
  };
}
