import type { Logger } from "../logger.js";
import type { ClaimedDelivery, EventStore } from "../storage/event-store.js";
import { nextAttemptAt, sendDelivery, type AttemptOutcome } from "./attempt.js";
import { acceptsEvent, type WebhookEndpoint } from "./endpoints.js";
import { renderEvent, type RenderContext } from "./formats.js";
import { createWebhookOps, type WebhookHealth } from "./ops.js";
import { createSigner, type Signer } from "./sign.js";

/**
 * Delivers the outbox's events to the configured webhook endpoints: at least once, in order per
 * repository and endpoint, with retries for `retryFor`, then parked as failed (see
 * docs/webhooks.md). Each endpoint has a loop of its own, so a slow or dead receiver holds up
 * nothing but its own deliveries, and never a push or a pull: those only append to the outbox
 * and call `nudge`.
 *
 * On several nodes every node runs a dispatcher over the same store: fanning out is one
 * transaction per endpoint cursor, and a delivery is worked on by the node holding its lease
 * (the endpoint's timeout plus 5 s); a node that dies mid-delivery leaves the lease to run out,
 * and another node takes the delivery over.
 */
export interface Dispatcher {
  /** Starts the endpoint loops and the outbox prune. */
  start(): void;
  /** Something was committed to the outbox: look now rather than at the next poll. Cheap; call it freely. */
  nudge(): void;
  /** Stops the loops, aborting requests in flight (their leases run out; another node or the next start retries them). */
  stop(): Promise<void>;
  health(): Promise<WebhookHealth[]>;
}

/** One attempt, reported to `onAttempt` (the metrics) after it was recorded. */
export interface AttemptReport {
  endpoint: string;
  eventId: string;
  type: string;
  /** `retry`: failed and due again; `failed`: failed and parked. */
  outcome: "delivered" | "retry" | "failed";
  status?: number;
  ms: number;
}

export interface DispatcherOptions {
  store: EventStore;
  endpoints: readonly WebhookEndpoint[];
  logger: Logger;
  /** Unique per process: the owner of this node's leases. */
  instanceId: string;
  /** Base of `target.url` and the distribution `source` (formats.ts). */
  render: RenderContext;
  /** How long events stay in the outbox once no delivery needs them (config notifications.eventRetention). */
  eventRetentionMs: number;
  onAttempt?: (report: AttemptReport) => void;
  clock?: () => number;
  random?: () => number;
  /** How often each loop looks for work without a nudge; default 1 s. */
  pollIntervalMs?: number;
  /** Deliveries of one endpoint in flight at once (each of another repository); default 4. */
  concurrency?: number;
  /** How often the outbox is pruned; default 1 h (and once at start). */
  pruneIntervalMs?: number;
  userAgent?: string;
}

/** Events one fan-out step passes over. */
const FANOUT_BATCH = 200;
/**
 * A lease outlasts the request's timeout by this much, for recording the outcome (milliseconds of
 * work). Also how long, after the timeout, a delivery a dead node held waits for another node.
 */
const LEASE_MARGIN_MS = 5_000;

interface Loop {
  endpoint: WebhookEndpoint;
  signer: Signer;
  nudged: boolean;
  wake?: () => void;
  done?: Promise<void>;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, endpoints, logger, instanceId, render, onAttempt, clock = Date.now, random = Math.random } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const concurrency = options.concurrency ?? 4;
  const userAgent = options.userAgent ?? "Berth-Webhooks";
  const stopping = new AbortController();
  const loops: Loop[] = endpoints.map((endpoint) => ({ endpoint, signer: createSigner(endpoint.secret), nudged: true }));
  const ops = createWebhookOps({ store, endpoints, clock });
  let started = false;
  let pruneTimer: NodeJS.Timeout | undefined;
  let pruning: Promise<void> | undefined;
  const prune = () => {
    if (pruning || stopping.signal.aborted) return;
    pruning = store
      .pruneEvents(clock() - options.eventRetentionMs)
      .then((deleted) => void (deleted > 0 && logger.info("webhook outbox pruned", { events: deleted })))
      .catch((err: unknown) => logger.error("webhook outbox prune failed", { error: String(err) }))
      .finally(() => (pruning = undefined));
  };

  const idle = (loop: Loop) =>
    new Promise<void>((resolve) => {
      if (loop.nudged || stopping.signal.aborted) return resolve();
      const timer = setTimeout(() => loop.wake?.(), pollIntervalMs);
      loop.wake = () => {
        clearTimeout(timer);
        loop.wake = undefined;
        resolve();
      };
    });

  const record = async (loop: Loop, claimed: ClaimedDelivery, outcome: AttemptOutcome) => {
    const { endpoint } = loop;
    const { event, attempts } = claimed;
    const at = clock();
    const retryAt = outcome.delivered
      ? undefined
      : nextAttemptAt(
          {
            now: at,
            windowStart: event.time,
            retryFor: endpoint.retryFor,
            attempts,
            ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}),
          },
          random,
        );
    const kept = await store.recordAttempt(
      endpoint.name,
      event.seq,
      instanceId,
      outcome.delivered
        ? { at, delivered: true, status: outcome.status ?? 0 }
        : { at, delivered: false, error: outcome.error ?? "failed", ...(outcome.status !== undefined ? { status: outcome.status } : {}), ...(retryAt !== undefined ? { retryAt } : {}) },
    );
    const result = outcome.delivered ? "delivered" : retryAt !== undefined ? "retry" : "failed";
    const fields = {
      endpoint: endpoint.name,
      event: event.id,
      seq: event.seq,
      type: event.type,
      ...(event.repository !== undefined ? { repository: event.repository } : {}),
      attempt: attempts + 1,
      outcome: result,
      status: outcome.status,
      ms: outcome.ms,
      error: outcome.error,
      ...(retryAt !== undefined ? { retryAt: new Date(retryAt).toISOString() } : {}),
      ...(kept ? {} : { leaseLost: true }),
    };
    if (!kept) return logger.warn("webhook delivery outcome not recorded: the lease ran out (another node may retry it)", fields);
    if (result === "failed") logger.warn("webhook delivery failed; parked after its retry window (berth events replay sends it again)", fields);
    else logger.info("webhook delivery", fields);
    onAttempt?.({ endpoint: endpoint.name, eventId: event.id, type: event.type, outcome: result, ...(outcome.status !== undefined ? { status: outcome.status } : {}), ms: outcome.ms });
  };

  const deliver = async (loop: Loop, claimed: ClaimedDelivery) => {
    const rendered = renderEvent(loop.endpoint.format, claimed.event, render);
    // Fanned out before the endpoint's format changed to one without a form for it: nothing to send.
    const outcome: AttemptOutcome = rendered
      ? await sendDelivery(loop.endpoint, claimed.event.id, rendered, loop.signer, { stop: stopping.signal, userAgent, now: new Date(clock()) })
      : { delivered: true, status: 0, ms: 0 };
    if (outcome.stopped) return;
    await record(loop, claimed, outcome);
  };

  /** One round: fan out, claim, deliver. Resolves whether there may be more work at once. */
  const step = async (loop: Loop): Promise<boolean> => {
    const { endpoint } = loop;
    const passed = await store.fanOutEvents(endpoint.name, (e) => acceptsEvent(endpoint, e), FANOUT_BATCH);
    if (!endpoint.enabled || stopping.signal.aborted) return passed === FANOUT_BATCH;
    const now = clock();
    const claimed = await store.claimDeliveries(endpoint.name, instanceId, now, now + endpoint.timeout + LEASE_MARGIN_MS, concurrency);
    await Promise.all(claimed.map((c) => deliver(loop, c)));
    return passed === FANOUT_BATCH || claimed.length > 0;
  };

  const run = async (loop: Loop) => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      loop.nudged = false;
      let more = false;
      try {
        more = await step(loop);
        failures = 0;
      } catch (err) {
        if (stopping.signal.aborted) break;
        // The store is unreachable (a database restart): say so once, then keep trying quietly at the poll interval.
        if (failures++ === 0) logger.error("webhook dispatch failed", { endpoint: loop.endpoint.name, error: String(err) });
      }
      if (!more) await idle(loop);
    }
  };

  return {
    start() {
      if (started) return;
      started = true;
      for (const loop of loops) loop.done = run(loop);
      if (loops.length === 0) return;
      prune();
      pruneTimer = setInterval(prune, options.pruneIntervalMs ?? 3_600_000);
      pruneTimer.unref();
    },
    nudge() {
      for (const loop of loops) {
        loop.nudged = true;
        loop.wake?.();
      }
    },
    async stop() {
      stopping.abort();
      clearInterval(pruneTimer);
      for (const loop of loops) loop.wake?.();
      await Promise.all([...loops.map((l) => l.done), pruning]);
    },
    health: () => ops.health(),
  };
}
