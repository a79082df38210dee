import type { EventLog, Origin } from "./events.js";

/** How a maintenance run (a garbage collection, a retention run) ended. */
export type RunOutcome = "completed" | "aborted" | "dry_run" | "skipped" | "failed";

/** How a run ended and what its event says of it; `reportRuns` adds `outcome` and `durationMs` to the detail. */
export interface RunSummary {
  outcome: RunOutcome;
  detail: Record<string, unknown>;
}

/**
 * Reports every call of a maintenance job's `run` as one event of `type` (`gc.completed`,
 * `retention.completed`): its outcome and what it removed as `summarize` reads them from the
 * report, or `failed` with the error when it threw. Runs that changed nothing (skipped, dry runs)
 * are published to subscribers (metrics) but not kept in the outbox.
 */
export function reportRuns<O extends { origin?: Origin }, R>(
  events: EventLog,
  type: "gc.completed" | "retention.completed",
  run: (options?: O) => Promise<R>,
  summarize: (report: R) => RunSummary,
): (options?: O) => Promise<R> {
  const report = async (origin: Origin | undefined, outcome: RunOutcome, started: number, detail: Record<string, unknown>) => {
    const event = events.event(type, { result: outcome === "failed" ? "failed" : "ok", detail: { ...detail, outcome, durationMs: Date.now() - started } }, origin);
    if (outcome === "skipped" || outcome === "dry_run") await events.published([event]);
    else await events.emit([event]);
  };
  return async (options) => {
    const started = Date.now();
    let result: R;
    try {
      result = await run(options);
    } catch (err) {
      await report(options?.origin, "failed", started, { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    const { outcome, detail } = summarize(result);
    await report(options?.origin, outcome, started, detail);
    return result;
  };
}
