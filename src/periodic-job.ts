import type { Logger } from "./logger.js";

/**
 * Background work on an interval (upload purge, garbage collection, retention): never two runs of
 * one job at once in this process, failures logged rather than thrown, and a stop that aborts the
 * run in flight and waits for it, so the stores are not closed under it.
 */
export interface PeriodicJob {
  /** Runs every `intervalMs` (at least 1 s); `runNow` also runs it at once. */
  start(intervalMs: number, runNow?: boolean): void;
  stop(): Promise<void>;
}

export function createPeriodicJob(logger: Logger, name: string, run: (signal: AbortSignal) => Promise<void>): PeriodicJob {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const abort = new AbortController();
  const tick = () => {
    if (running || abort.signal.aborted) return;
    running = run(abort.signal)
      .catch((err: unknown) => logger.error(`${name} failed`, { error: String(err) }))
      .finally(() => (running = undefined));
  };
  return {
    start(intervalMs, runNow = false) {
      if (runNow) tick();
      timer = setInterval(tick, Math.max(intervalMs, 1000));
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      abort.abort();
      await running;
    },
  };
}
