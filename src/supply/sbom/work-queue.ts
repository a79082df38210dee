/**
 * Runs background jobs a few at a time, in arrival order, one per key at once: a key already
 * queued or running is not queued again. Never throws to the caller; `run` handles its own errors.
 */
export interface WorkQueue {
  /** Queues `key` unless it is queued or running; resolves false when it was already there. */
  add(key: string): boolean;
  has(key: string): boolean;
  readonly size: number;
  /** Resolves once nothing is queued or running. */
  settled(): Promise<void>;
  /** Forgets the jobs not started yet (shutdown); resolves how many. Running ones go on. */
  drop(): number;
}

export function createWorkQueue(run: (key: string) => Promise<void>, concurrency: number): WorkQueue {
  const waiting: string[] = [];
  const keys = new Set<string>();
  let running = 0;
  let idle: (() => void)[] = [];

  const pump = () => {
    while (running < concurrency && waiting.length > 0) {
      const key = waiting.shift()!;
      running++;
      void run(key)
        .catch(() => {})
        .finally(() => {
          running--;
          keys.delete(key);
          pump();
        });
    }
    if (running === 0 && waiting.length === 0) {
      const done = idle;
      idle = [];
      for (const resolve of done) resolve();
    }
  };

  return {
    add(key) {
      if (keys.has(key)) return false;
      keys.add(key);
      waiting.push(key);
      // Later, so a push's event listener returns before any work starts.
      setImmediate(pump);
      return true;
    },
    has: (key) => keys.has(key),
    get size() {
      return keys.size;
    },
    settled() {
      if (keys.size === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
    drop() {
      const dropped = waiting.splice(0);
      for (const key of dropped) keys.delete(key);
      pump();
      return dropped.length;
    },
  };
}
