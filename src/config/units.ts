/** Human units in configuration: durations (`30s`, `24h`) and sizes (`4MiB`). */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Milliseconds from `"90s"`, `"24h"`, `"500ms"`, or a bare number of seconds. Undefined when malformed. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNITS[match[2] ?? "s"]!;
}

/** Bytes from `"4MiB"`, `"512k"`, `"1GB"`, or a bare number of bytes. Undefined when malformed. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) return undefined;
  return Math.floor(Number(match[1]) * unit);
}

/**
 * A whole number above 0 in decimal digits, no larger than Number.MAX_SAFE_INTEGER (so it is
 * exact, and fits a database bigint). Undefined otherwise. Shared by the CLI's and the API's
 * counts and positions (`--limit`, `?after=`).
 */
export function parsePositiveInteger(value: string): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/** Booleans from env-style strings. */
export function parseBoolean(value: string | boolean): boolean | undefined {
  if (typeof value === "boolean") return value;
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  return undefined;
}

/** `host:port`, `[::1]:port` or `:port`; port 0 picks a free one. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

/** `600000` → `"10m"`: the largest unit that divides `ms` exactly, so parseDuration gives it back. */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = DURATION_UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return Number.isInteger(ms) && ms > 0 ? `${ms}ms` : `${ms / 1000}s`;
}

/** `4194304` → `"4MiB"`, `1000000000` → `"1GB"`: exact, so parseSize gives it back. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["GB", 1000 ** 3], ["MiB", 1024 ** 2], ["MB", 1000 ** 2], ["KiB", 1024], ["kB", 1000]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}`;
}
