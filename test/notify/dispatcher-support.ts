import { randomUUID } from "node:crypto";
import { createLogger, type Logger } from "../../src/logger.js";
import { DEFAULT_WEBHOOK_ACTIONS } from "../../src/config/schema.js";
import { createDispatcher, type AttemptReport, type Dispatcher } from "../../src/notify/dispatcher.js";
import type { WebhookEndpoint } from "../../src/notify/endpoints.js";
import type { Digest } from "../../src/oci/digest.js";
import type { EventRecord } from "../../src/storage/event-store.js";
import type { MetadataStore } from "../../src/storage/metadata-store.js";

export const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

export function endpoint(name: string, url: string, fields: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    name,
    url,
    secret: SECRET,
    format: "distribution",
    actions: [...DEFAULT_WEBHOOK_ACTIONS],
    headers: { Authorization: "Bearer header-value-never-logged" },
    timeout: 2000,
    retryFor: 24 * 3600_000,
    enabled: true,
    ...fields,
  };
}

/** A manifest push event of `repo`, as the registry records one. */
export function pushed(repo: string, tag = "v1", time = Date.now()): EventRecord {
  const digest = `sha256:${randomUUID().replace(/-/g, "").padEnd(64, "0")}` as Digest;
  return {
    id: randomUUID(),
    type: "manifest.pushed",
    time,
    repository: repo,
    target: { digest, mediaType: "application/vnd.oci.image.manifest.v1+json", size: 321, tags: [tag] },
    actor: "alice",
    request: { id: randomUUID(), addr: "127.0.0.1:50000", host: "registry.test:5000", method: "PUT", useragent: "test" },
  };
}

/** A clock tests move forward (retries come due, leases run out) without waiting. */
export function testClock() {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms: number) => void (offset += ms) };
}

/** Log lines as parsed objects, so tests can check every attempt was logged and nothing secret was. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const raw: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => void raw.push(line) });
  return { logger, get lines() { return raw.map((l) => JSON.parse(l) as Record<string, unknown>); }, text: () => raw.join("") };
}

/** A dispatcher over `store` with a fast poll, its attempts collected. */
export function dispatcherFor(
  store: MetadataStore,
  endpoints: WebhookEndpoint[],
  { clock, logger, instanceId = `node-${randomUUID().slice(0, 8)}` }: { clock: () => number; logger: Logger; instanceId?: string },
): Dispatcher & { attempts: AttemptReport[] } {
  const attempts: AttemptReport[] = [];
  const dispatcher = createDispatcher({
    store,
    endpoints,
    logger,
    instanceId,
    render: { scheme: "http", source: { addr: "node:5000", instanceID: instanceId } },
    eventRetentionMs: 7 * 86_400_000,
    onAttempt: (a) => void attempts.push(a),
    clock,
    random: () => 0,
    pollIntervalMs: 50,
  });
  return Object.assign(dispatcher, { attempts });
}
