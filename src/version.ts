import { readFileSync } from "node:fs";

let cached: string | undefined;

/** Berth's version, from the package.json beside `dist/` (read once); "unknown" if it cannot be read. */
export function berthVersion(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
    } catch {
      cached = "unknown";
    }
  }
  return cached;
}
