/** Human-readable figures for tables: sizes in binary units, times relative to now. */

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatAgo(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return "never";
  const s = Math.round((now - ms) / 1000);
  if (s < 60) return "just now";
  const steps: [number, string][] = [
    [60, "minute"],
    [3600, "hour"],
    [86400, "day"],
    [30 * 86400, "month"],
    [365 * 86400, "year"],
  ];
  let chosen = steps[0]!;
  for (const step of steps) if (s >= step[0]) chosen = step;
  const n = Math.floor(s / chosen[0]);
  return `${n} ${chosen[1]}${n === 1 ? "" : "s"} ago`;
}

export const formatTime = (ms: number | null | undefined): string => (ms === null || ms === undefined ? "–" : new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC");

/** `sha256:abcdef012345` (the first 12 hex digits), for tables; the full digest goes in a title. */
export const shortDigest = (digest: string): string => {
  const colon = digest.indexOf(":");
  return colon < 0 ? digest.slice(0, 19) : `${digest.slice(0, colon)}:${digest.slice(colon + 1, colon + 13)}`;
};
