/** How a maintenance run (a garbage collection, a retention run) ended. */
export type RunOutcome = "completed" | "aborted" | "dry_run" | "skipped" | "failed";

export interface RunEvent {
  outcome: RunOutcome;
  /** From the call to its end, waiting for the lock included. */
  durationMs: number;
}

export type RunListener = (event: RunEvent) => void;

/**
 * Reports every call of a maintenance job's `run` to listeners (metrics subscribe here): its
 * outcome as `outcomeOf` reads it from the report, or `failed` when it threw. A listener that
 * throws never breaks the run.
 */
export function createRunEvents() {
  const listeners = new Set<RunListener>();
  const emit = (event: RunEvent) => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        // Metrics must never fail a collection.
      }
    }
  };
  return {
    /** Subscribes; returns the unsubscribe function. */
    on(listener: RunListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    wrap<A extends unknown[], R>(run: (...args: A) => Promise<R>, outcomeOf: (report: R) => RunOutcome): (...args: A) => Promise<R> {
      return async (...args) => {
        const started = Date.now();
        try {
          const report = await run(...args);
          emit({ outcome: outcomeOf(report), durationMs: Date.now() - started });
          return report;
        } catch (err) {
          emit({ outcome: "failed", durationMs: Date.now() - started });
          throw err;
        }
      };
    },
  };
}
