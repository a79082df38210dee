import { apk } from "./apk.js";
import { dpkg } from "./dpkg.js";
import { pep440 } from "./pep440.js";
import { semver } from "./semver.js";
import type { VersionOrder } from "./version-order.js";

export type { VersionOrder } from "./version-order.js";
export { apk, dpkg, pep440, semver };

/**
 * The version order of an OSV ecosystem (`Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.19`, `npm`,
 * `PyPI`, `Go`, `crates.io`), or undefined for one Berth cannot order: ECOSYSTEM ranges of those
 * are skipped (their explicit `versions[]` lists still match).
 */
export function orderFor(ecosystem: string): VersionOrder | undefined {
  switch (ecosystemBase(ecosystem)) {
    case "Debian":
    case "Ubuntu":
      return dpkg;
    case "Alpine":
      return apk;
    case "PyPI":
      return pep440;
    case "npm":
    case "Go":
    case "crates.io":
      return semver;
    default:
      return undefined;
  }
}

/** `Debian:12` → `Debian`; `Ubuntu:Pro:22.04:LTS` → `Ubuntu`; `npm` → `npm`. */
export function ecosystemBase(ecosystem: string): string {
  const colon = ecosystem.indexOf(":");
  return colon < 0 ? ecosystem : ecosystem.slice(0, colon);
}
