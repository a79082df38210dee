/** A one-line progress bar on stderr; on a non-terminal, a plain line at most every few seconds. */
export interface ProgressBar {
  update(done: number, total: number, label: string): void;
  finish(): void;
}

const WIDTH = 30;

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function createProgressBar(stream: NodeJS.WriteStream = process.stderr, intervalMs = 3000): ProgressBar {
  let lastPrint = 0;
  let drawn = false;
  return {
    update(done, total, label) {
      const now = Date.now();
      const fraction = total > 0 ? Math.min(1, done / total) : 1;
      if (stream.isTTY) {
        const filled = Math.round(fraction * WIDTH);
        const bar = `[${"=".repeat(filled)}${filled < WIDTH ? ">" : ""}${" ".repeat(Math.max(0, WIDTH - filled - 1))}]`;
        stream.write(`\r${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${label}\x1b[K`);
        drawn = true;
      } else if (now - lastPrint >= intervalMs || done === total) {
        stream.write(`${(fraction * 100).toFixed(0)}% ${label}\n`);
        lastPrint = now;
      }
    },
    finish() {
      if (drawn) stream.write("\n");
    },
  };
}
