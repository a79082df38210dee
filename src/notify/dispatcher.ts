import type { Logger } from "../logger.js";
import type { ClaimedDelivery, EventStore } from "../storage/event-store.js";
import { createConnections } from "../client/transport.js";
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
 * at most once per 200 ms, however often it is nudged, except straight after a fan-out that
 * passed a full batch of 200 events (a backlog being caught up). So a node takes that lock at
 * most 5 times a second per endpoint once caught up, and a new event waits at most 200 ms for its
 * fan-out. Claims run only when deliveries may have come due: after a fan-out that passed events,
 * when a delivery ends (its slot is free, its repository's next may go), and at each poll.
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
  /** Events may have committed since the last fan-out (a nudge, the poll). */
  newEvents: boolean;
  /** Deliveries may be due that were not when last claimed (a fan-out passed events, a slot freed, the poll). */
  claimWanted: boolean;
  /** performance.now() of the last poll: every pollIntervalMs the loop looks for both. */
  polledAt: number;
  wake?: () => void;
  done?: Promise<void>;
  /** Deliveries being sent or recorded, at most `concurrency`: each frees its slot and nudges the loop when it ends. */
  inFlight: Set<Promise<void>>;
  /** performance.now() from which the next fan-out may run (FANOUT_INTERVAL_MS). */
  fanOutAt: number;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, endpoints, logger, instanceId, render, onAttempt, clock = Date.now, random = Math.random } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const concurrency = options.concurrency ?? 4;
  const userAgent = options.userAgent ?? "Berth-Webhooks";
  const stopping = new AbortController();
  // Keep-alive connections to the receivers, unbounded per host (each endpoint caps its own deliveries in flight).
  const connections = createConnections(Infinity);
  const loops: Loop[] = endpoints.map((endpoint) => ({
    endpoint,
    signer: createSigner(endpoint.secret),
    newEvents: true,
    claimWanted: true,
    polledAt: performance.now(),
    inFlight: new Set<Promise<void>>(),
    fanOutAt: 0,
  }));
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
      if (stopping.signal.aborted) return resolve();
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
      ? await sendDelivery(loop.endpoint, claimed.event.id, rendered, loop.signer, { stop: stopping.signal, userAgent, connections, now: new Date(clock()) })
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
        loop.claimWanted = true;
        loop.wake?.();
      });
    loop.inFlight.add(sending);
  };

  /**
   * One round: fan out when events may have committed and the last fan-out is FANOUT_INTERVAL_MS
   * old, then claim, when deliveries may have come due, as many as there are free slots, and start
   * them. A nudge alone never costs a claim: the events it announces are claimable only once
   * fanned out.
   */
  const step = async (loop: Loop): Promise<void> => {
    const { endpoint } = loop;
    if (loop.newEvents && performance.now() >= loop.fanOutAt) {
      loop.newEvents = false;
      const passed = await store.fanOutEvents(endpoint.name, (e) => acceptsEvent(endpoint, e), FANOUT_BATCH);
      // A full batch means a backlog to catch up on: at once, not after the interval.
      if (passed === FANOUT_BATCH) loop.newEvents = true;
      loop.fanOutAt = passed === FANOUT_BATCH ? 0 : performance.now() + FANOUT_INTERVAL_MS;
      if (passed > 0) loop.claimWanted = true;
    }
    const free = concurrency - loop.inFlight.size;
    if (!loop.claimWanted || !endpoint.enabled || stopping.signal.aborted || free <= 0) return;
    loop.claimWanted = false;
    const now = clock();
    const claimed = await store.claimDeliveries(endpoint.name, instanceId, now, now + endpoint.timeout + LEASE_MARGIN_MS, free);
    for (const c of claimed) begin(loop, c);
  };

  /** How long the loop may sleep before its next round; 0 when there is work now. */
  const sleepFor = (loop: Loop): number => {
    const now = performance.now();
    if (now - loop.polledAt >= pollIntervalMs) {
      // Other nodes' and the CLI's events never nudge this node, and retries come due on their own.
      loop.polledAt = now;
      loop.newEvents = true;
      loop.claimWanted = true;
    }
    if (loop.claimWanted && loop.inFlight.size < concurrency && loop.endpoint.enabled) return 0;
    const untilPoll = loop.polledAt + pollIntervalMs - now;
    return loop.newEvents ? Math.max(0, Math.min(loop.fanOutAt - now, untilPoll)) : untilPoll;
  };

  const run = async (loop: Loop) => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        await step(loop);
        failures = 0;
      } catch (err) {
        if (stopping.signal.aborted) break;
        // The store is unreachable (a database restart): say so once, then keep trying quietly at the poll interval.
        if (failures++ === 0) logger.error("webhook dispatch failed", { endpoint: loop.endpoint.name, error: String(err) });
        await idle(loop, pollIntervalMs);
        continue;
      }
      const ms = sleepFor(loop);
      if (ms > 0) await idle(loop, ms);
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
        loop.newEvents = true;
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
      connections.destroy();
    },
  };
}
