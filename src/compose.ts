import { createAuthServices, ensureAdmin, type AuthServices } from "./auth/services.js";
import { subscribeAuditLog } from "./auth/audit-log.js";
import type { Config } from "./config/schema.js";
import { silentLogger, type Logger } from "./logger.js";
import { createRegistry, type Registry } from "./registry/registry.js";
import { createEventLog } from "./registry/events.js";
import { wantedCategories } from "./notify/endpoints.js";
import type { AuthStore } from "./storage/auth-store.js";
import { createAuthStore, createStores, openExistingAuthStore, openMetadataStore, type OpenOptions } from "./storage/create-stores.js";
import type { MetadataStore } from "./storage/metadata-store.js";
import type { PushAdmission } from "./registry/manifests.js";
import { createSecretScanner, secretScanningWanted, type SecretScanner } from "./supply/secrets/secrets.js";

/**
 * The composition root: the one place that turns a configuration into stores, the registry,
 * access control and the subscribers listening to the registry. `berth serve` (server.ts) and
 * every CLI command build what they need here; the HTTP app is built on top by server.ts alone.
 */

/** Which access-control store a caller needs. */
export type AuthNeed =
  /** None (the default). */
  | "none"
  /** As configured (`berth serve`): with `auth.enabled`, opened (created with `create`) and the first admin ensured. */
  | "configured"
  /** The registry's own, when it has one, never created: its namespaces and audit log count whatever this invocation's flags. */
  | "existing"
  /** Opened whatever the configuration says, its tables created on first use (`berth user …`, a migration's target). */
  | "required";

/**
 * A listener every process attaches to the registry's event log once it is built (the audit log,
 * the quota warning log). It may return how to detach it, which `close()` calls before the stores
 * close. `berth serve` adds its own: metrics (http/metrics.ts) and the webhook dispatcher (server.ts).
 */
type Subscriber = (services: BerthServices) => void | (() => void | Promise<void>);

export interface OpenServicesOptions extends OpenOptions {
  /** Default "none". */
  auth?: AuthNeed;
  /** Where subscribers, event-recording failures and the first-admin creation log; silent when absent. */
  logger?: Logger;
}

export interface BerthServices {
  readonly config: Config;
  readonly registry: Registry;
  /** The access-control store, when `auth` asked for one and (for "configured", "existing") there is one. */
  readonly authStore?: AuthStore;
  /** Access control's services over `authStore`, whenever it is open. */
  readonly auth?: AuthServices;
  /** Secret scanning of pushes, when some `secrets.policies` entry is not off. */
  readonly secrets?: SecretScanner;
  /** Detaches the subscribers, then closes the registry and the auth store. */
  close(): Promise<void>;
}

/** Access control alone, for commands that change users and tokens without touching the registry's stores. */
export interface AuthOnlyServices extends AuthServices {
  close(): Promise<void>;
}

/**
 * Builds the registry over the stores `config` names, its event log recording into the metadata
 * store's outbox (failures to record or to notify a subscriber go to `logger`); only `create`
 * makes a new registry.
 */
export async function createRegistryFromConfig(config: Config, open: OpenOptions = {}, logger: Logger = silentLogger, admitPush?: PushAdmission): Promise<Registry> {
  const { blobStore, metadataStore } = await createStores(config, open);
  return createRegistry({
    blobStore,
    metadataStore,
    ...(admitPush ? { admitPush } : {}),
    events: configuredEventLog(config, metadataStore, logger),
    options: {
      deleteEnabled: config.delete.enabled,
      // Mounting by digest alone would let anyone who knows a digest read it: only without access control.
      anonymousMount: config.mount.anonymous && !config.auth.enabled,
      maxManifestSize: config.manifests.maxSize,
      uploadExpiryMs: config.uploads.expiry,
      maxPageSize: config.pagination.maxEntries,
      tagRules: config.tagRules,
      gc: { graceMs: config.gc.grace, deleteUntagged: config.gc.deleteUntagged, orphanReferrers: config.gc.orphanReferrers },
      retention: { rules: config.retention.rules, graceMs: config.gc.grace },
      quotas: config.quotas,
    },
  });
}

async function openAuthStore(config: Config, need: AuthNeed, create: boolean): Promise<AuthStore | undefined> {
  switch (need) {
    case "none":
      return undefined;
    case "configured":
      return config.auth.enabled ? createAuthStore(config, { create }) : undefined;
    case "existing":
      return openExistingAuthStore(config);
    case "required":
      return createAuthStore(config, { create });
  }
}

/**
 * The subscribers every process gets: the audit log, wherever the registry keeps one (so the API,
 * the CLI and schedules are audited alike), and logging a quota's warning threshold crossed.
 */
function builtInSubscribers(logger: Logger | undefined): Subscriber[] {
  const audit: Subscriber = ({ registry, authStore }) => (authStore ? subscribeAuditLog(registry.events, authStore) : undefined);
  if (!logger) return [audit];
  const quotaLog: Subscriber = ({ registry }) =>
    registry.events.subscribe((batch) => {
      for (const e of batch) if (e.type === "quota.warning") logger.warn("quota warning threshold crossed", { repository: e.repository, ...e.detail });
    });
  return [audit, quotaLog];
}

/**
 * Opens what `config` names (only `create` makes a new registry), with the access-control store
 * `auth` asks for, and attaches the subscribers. On any failure what was opened is closed again.
 */
export async function openBerthServices(config: Config, options: OpenServicesOptions = {}): Promise<BerthServices> {
  const create = options.create ?? false;
  const logger = options.logger;
  // The scanner needs the registry and the registry asks the scanner: bound once both exist.
  let admit: PushAdmission | undefined;
  const scanning = secretScanningWanted(config.secrets);
  const registry = await createRegistryFromConfig(config, { create }, logger, scanning ? (push) => admit?.(push) ?? Promise.resolve() : undefined);
  const authStore = await openAuthStore(config, options.auth ?? "none", create).catch(async (err: unknown) => {
    await registry.close();
    throw err;
  });
  const detach: (() => void | Promise<void>)[] = [];
  let secrets: SecretScanner | undefined;
  const services: BerthServices = {
    config,
    registry,
    get secrets() {
      return secrets;
    },
    ...(authStore ? { authStore, auth: createAuthServices(authStore, config, registry.events) } : {}),
    async close() {
      for (const d of detach.splice(0).reverse()) await d();
      await registry.close();
      await authStore?.close();
    },
  };
  try {
    if (scanning) {
      secrets = createSecretScanner({ registry, config: config.secrets, logger: logger ?? silentLogger });
      admit = secrets.admitPush;
      const scanner = secrets;
      detach.push(() => scanner.close());
    }
    for (const subscribe of builtInSubscribers(logger)) {
      const d = subscribe(services);
      if (d) detach.push(d);
    }
    // After the subscribers: the first admin's creation is audited like any other change.
    if (authStore && options.auth === "configured") await ensureAdmin(authStore, registry.events, config, logger ?? silentLogger);
  } catch (err) {
    await services.close();
    throw err;
  }
  return services;
}

/**
 * The event log over `outbox` as configured: pull, auth and quota events kept only while an
 * endpoint will deliver them; a failure to record or to notify a subscriber goes to `logger`.
 */
function configuredEventLog(config: Config, outbox: MetadataStore, logger: Logger) {
  return createEventLog({
    store: outbox,
    wanted: wantedCategories(config.notifications.endpoints),
    onError: (what, err) => logger.error(what, { error: err instanceof Error ? err.message : String(err) }),
  });
}

/**
 * The access-control store and its services without the blob store (`berth user|token|ns
 * add|…`, so an unreachable S3 does not stop them): the registry must exist; its auth part is
 * created on first use. The metadata store is opened as the outbox, so these changes reach the
 * audit log and webhooks as the API's do.
 */
export async function openAuthServices(config: Config, logger: Logger = silentLogger): Promise<AuthOnlyServices> {
  const outbox = await openMetadataStore(config);
  const store = await createAuthStore(config).catch(async (err: unknown) => {
    await outbox.close();
    throw err;
  });
  const events = configuredEventLog(config, outbox, logger);
  subscribeAuditLog(events, store);
  return {
    ...createAuthServices(store, config, events),
    async close() {
      await store.close();
      await outbox.close();
    },
  };
}
