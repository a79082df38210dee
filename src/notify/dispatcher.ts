import type { Logger } from "../logger.js";
import type { ClaimedDelivery, EventStore } from "../storage/event-store.js";
import { nextAttemptAt, sendDelivery, type AttemptOutcome } from "./attempt.js";
import { acceptsEvent, type WebhookEndpoint } from "./endpoints.js";
import { renderEvent, type RenderContext, type RenderedDelivery } from "./formats.js";
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
 *
 * What bounds the fan-out traffic (on PostgreSQL each fan-out takes the event lock exclusive,
 * and every push's event insert queues behind it while it waits): each endpoint's loop fans out
 * at most once per 200 ms, however often it is nudged or a delivery ends (claims still run at
 * once), except straight after a fan-out that passed a full batch of 200 events (a backlog being
 * caught up). So a node takes that lock at most 5 times a second per endpoint once caught up,
 * and a new event waits at most 200 ms for its fan-out.
 */
export interface Dispatcher {
  /** Starts the endpoint loops and the outbox prune. */
  start(): void;
  /** Something was committed to the outbox: look now rather than at the next poll. Cheap; call it freely. */
  nudge(): void;
  /**
   * Stops the loops, aborting requests in flight (their leases run out; another node or the next
   * start retries them). Resolves once every send and every recording in flight has ended, so the
   * store may be closed then.
   */
  stop(): Promise<void>;
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
  /** Deliveries of one endpoint in flight at once (each of another repository); default 4. A slot that frees is filled at once. */
  concurrency?: number;
  /** How often the outbox is pruned; default 1 h (and once at start). */
  pruneIntervalMs?: number;
  userAgent?: string;
}

/** Events one fan-out step passes over. */
const FANOUT_BATCH = 200;
/** The least time between two fan-outs of one endpoint's loop, unless the first passed a full batch. */
const FANOUT_INTERVAL_MS = 200;
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
  /** Deliveries being sent or recorded, at most `concurrency`: each frees its slot and nudges the loop when it ends. */
  inFlight: Set<Promise<void>>;
  /** performance.now() from which the next fan-out may run (FANOUT_INTERVAL_MS). */
  fanOutAt: number;
  /** The last round put its fan-out off: run it once the interval is over, not at the next poll. */
  fanOutDue: boolean;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, endpoints, logger, instanceId, render, onAttempt, clock = Date.now, random = Math.random } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const concurrency = options.concurrency ?? 4;
  const userAgent = options.userAgent ?? "Berth-Webhooks";
  const stopping = new AbortController();
  const loops: Loop[] = endpoints.map((endpoint) => ({ endpoint, signer: createSigner(endpoint.secret), nudged: true, inFlight: new Set<Promise<void>>(), fanOutAt: 0, fanOutDue: false }));
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

  const idle = (loop: Loop, ms: number) =>
    new Promise<void>((resolve) => {
      if (loop.nudged || stopping.signal.aborted) return resolve();
      const timer = setTimeout(() => loop.wake?.(), ms);
      loop.wake = () => {
        clearTimeout(timer);
        loop.wake = undefined;
        resolve();
      };
    });

  /** Records an attempt's outcome; `park`: a failure that no retry can fix, parked at once. */
  const record = async (loop: Loop, claimed: ClaimedDelivery, outcome: AttemptOutcome, park = false) => {
    const { endpoint } = loop;
    const { event, attempts } = claimed;
    const at = clock();
    const retryAt = outcome.delivered || park
      ? undefined
      : nextAttemptAt(
          {
            now: at,
            windowStart: claimed.replayedAt ?? event.time,
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
    let rendered: RenderedDelivery | undefined;
    try {
      rendered = renderEvent(loop.endpoint.format, claimed.event, render);
    } catch (err) {
      // The same event fails the same way every time: parked at once (and logged), so it neither
      // comes back after every lease nor holds up its repository's later events.
      return record(loop, claimed, { delivered: false, error: `the event could not be rendered: ${String(err)}`.slice(0, 300), ms: 0 }, true);
    }
    // Fanned out before the endpoint's format changed to one without a form for it: nothing to send.
    const outcome: AttemptOutcome = rendered
      ? await sendDelivery(loop.endpoint, claimed.event.id, rendered, loop.signer, { stop: stopping.signal, userAgent, now: new Date(clock()) })
      : { delivered: true, status: 0, ms: 0 };
    if (outcome.stopped) return;
    await record(loop, claimed, outcome);
  };

  /** Sends and records one delivery beside the others in flight; when it ends, its slot is free and the repository's next delivery may be due. */
  const begin = (loop: Loop, claimed: ClaimedDelivery) => {
    const sending: Promise<void> = deliver(loop, claimed)
      .catch((err: unknown) =>
        logger.error("webhook delivery outcome not recorded (its lease runs out, then it is retried)", {
          endpoint: loop.endpoint.name,
          event: claimed.event.id,
          seq: claimed.event.seq,
          error: String(err),
        }),
      )
      .finally(() => {
        loop.inFlight.delete(sending);
        loop.nudged = true;
        loop.wake?.();
      });
    loop.inFlight.add(sending);
  };

  /**
   * One round: fan out (unless the last fan-out was less than FANOUT_INTERVAL_MS ago), then claim
   * as many deliveries as there are free slots and start them. Resolves whether there may be more
   * work at once.
   */
  const step = async (loop: Loop): Promise<boolean> => {
    const { endpoint } = loop;
    let passed = 0;
    loop.fanOutDue = performance.now() < loop.fanOutAt;
    if (!loop.fanOutDue) {
      passed = await store.fanOutEvents(endpoint.name, (e) => acceptsEvent(endpoint, e), FANOUT_BATCH);
      loop.fanOutAt = passed === FANOUT_BATCH ? 0 : performance.now() + FANOUT_INTERVAL_MS;
    }
    const free = concurrency - loop.inFlight.size;
    if (!endpoint.enabled || stopping.signal.aborted || free <= 0) return passed === FANOUT_BATCH;
    const now = clock();
    const claimed = await store.claimDeliveries(endpoint.name, instanceId, now, now + endpoint.timeout + LEASE_MARGIN_MS, free);
    for (const c of claimed) begin(loop, c);
    return passed === FANOUT_BATCH;
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
      if (!more) await idle(loop, loop.fanOutDue ? Math.min(pollIntervalMs, Math.max(0, loop.fanOutAt - performance.now())) : pollIntervalMs);
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
      // Once the loops have ended no delivery begins; those under way end soon (their requests are aborted).
      await Promise.all(loops.flatMap((l) => [...l.inFlight]));
    },
  };
}
