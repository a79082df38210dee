import type { IncomingMessage } from "node:http";
import type { AuthServices } from "../auth/services.js";
import type { AppOptions } from "./app.js";
import { createOpenGuard, createTokenGuard } from "./guard.js";
import { createAdminApi } from "./handlers/admin-api.js";
import { createTokenEndpoint } from "./handlers/token.js";
import { handleSessionApi } from "./handlers/session-api.js";

/** What the app needs of access control: the guard before every route, and the token flow's routes when it is on. */
export type Access = Pick<AppOptions, "guard" | "auth">;

export interface AccessOptions {
  /** Whether Berth itself serves HTTPS: then the derived realm is `https://…` whatever a proxy header says. */
  tls: boolean;
  /** Without access control: refuse push and delete (a non-loopback listener without `auth.allowAnonymousPush`). */
  pullOnly: boolean;
  /** With a pull-through cache: the cache repository a read of a name is served from, when it is another name. */
  cacheRepositoryOf?: (name: string) => Promise<string | undefined>;
}

/**
 * The HTTP side of access control: with `services` (access control on) the token guard, the
 * token endpoint, JWKS and the management API over them; without, the open guard.
 */
export function createAccess(services: AuthServices | undefined, options: AccessOptions): Access {
  if (!services) return { guard: createOpenGuard(options.pullOnly) };
  const { store, settings, tokens, authorizer, throttle, events } = services;
  const realm = (req: IncomingMessage) => {
    if (settings.realm) return settings.realm;
    const forwarded = req.headers["x-forwarded-proto"];
    const proto = options.tls ? "https" : typeof forwarded === "string" ? forwarded.split(",")[0]!.trim() : "http";
    return `${proto}://${req.headers.host ?? "localhost"}/token`;
  };
  const guard = createTokenGuard({
    store,
    tokens,
    authorizer,
    throttle,
    policies: settings.policies,
    defaultVisibility: settings.defaultVisibility,
    service: settings.service,
    realm,
    basic: settings.basic,
    events,
    sessions: services.sessions,
  });
  const tokenEndpoint = createTokenEndpoint({
    store,
    tokens,
    authorizer,
    throttle,
    service: settings.service,
    events,
    ...(options.cacheRepositoryOf ? { cacheRepositoryOf: options.cacheRepositoryOf } : {}),
  });
  return {
    guard,
    auth: {
      tokenEndpoint: (req, res, url, origin) => tokenEndpoint(req, res, url, origin),
      jwks: () => tokens.jwks(),
      adminApi: createAdminApi(services, guard),
      access: { store, defaultVisibility: settings.defaultVisibility },
      session: (ctx) => handleSessionApi(ctx, services, options.tls),
    },
  };
}
