import { lazyRequire } from "../../lazy-require.js";
import type { OsvAffected, OsvRecord, OsvSeverity } from "./osv.js";

const cvss = lazyRequire<typeof import("ae-cvss-calculator")>("ae-cvss-calculator");

/** A finding's severity: NVD's qualitative bands of a CVSS score, or the advisory's own word. */
export type Severity = "critical" | "high" | "medium" | "low" | "unknown";

const RANK: Record<Severity, number> = { unknown: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** 0 for unknown, 1 (low) … 4 (critical): sort findings by it, worst first. */
export function severityRank(severity: Severity): number {
  return RANK[severity];
}

/**
 * Whether a finding reaches a policy threshold (`refuseAt`). `none` is never reached, and an
 * unknown severity reaches only an `unknown` threshold: a policy refuses what it can rate.
 */
export function atOrAbove(severity: Severity, threshold: Severity | "none"): boolean {
  if (threshold === "none") return false;
  return RANK[severity] >= RANK[threshold];
}

/** NVD's CVSS v3/v4 bands (0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical). */
export function bandOf(score: number): Severity {
  if (score >= 9) return "critical";
  if (score >= 7) return "high";
  if (score >= 4) return "medium";
  return "low";
}

/**
 * The base score of a CVSS v3.0/v3.1 or v4.0 vector (computed by ae-cvss-calculator, which
 * implements FIRST's formulas), or undefined for a vector that is incomplete or malformed.
 */
export function cvssBaseScore(vector: string): number | undefined {
  const v = vector.trim();
  const make = v.startsWith("CVSS:3.1/")
    ? () => new (cvss().Cvss3P1)(v)
    : v.startsWith("CVSS:3.0/")
      ? () => new (cvss().Cvss3P0)(v)
      : v.startsWith("CVSS:4.0/")
        ? () => new (cvss().Cvss4P0)(v)
        : undefined;
  if (!make) return undefined;
  return scoreOf(make);
}

/** The base score of a CVSS v2 vector (`AV:N/AC:L/Au:N/C:P/I:P/A:P`, no prefix), or undefined. */
export function cvss2BaseScore(vector: string): number | undefined {
  const v = vector.trim().replace(/^\(|\)$/g, "");
  return /^AV:[LAN]\/AC:[HML]\/Au:[MSN]\/C:[NPC]\/I:[NPC]\/A:[NPC]/.test(v) ? scoreOf(() => new (cvss().Cvss2)(v)) : undefined;
}

function scoreOf(make: () => { calculateScores(): { base?: unknown } }): number | undefined {
  try {
    const base = make().calculateScores().base;
    return typeof base === "number" && Number.isFinite(base) && base >= 0 && base <= 10 ? base : undefined;
  } catch {
    return undefined;
  }
}

/** The advisory words OSV sources use: GHSA (MODERATE), Ubuntu priorities, Debian urgencies, Red Hat. */
export function severityOfWord(word: unknown): Severity {
  if (typeof word !== "string") return "unknown";
  // Debian marks urgencies it has not settled with asterisks (`medium**`).
  switch (word.trim().toLowerCase().replace(/\*+$/, "")) {
    case "critical":
      return "critical";
    case "high":
    case "important":
      return "high";
    case "moderate":
    case "medium":
      return "medium";
    case "low":
    case "negligible":
    case "minor":
    case "unimportant":
      return "low";
    default:
      return "unknown";
  }
}

/**
 * A record's severity for one affected entry: a CVSS v3 score first, then CVSS v4, then CVSS v2,
 * then the advisory's own words (`severity[].type = Ubuntu`, `database_specific.severity`,
 * `ecosystem_specific.severity` / `ubuntu_priority` / Debian's `urgency`); `unknown` when none
 * says anything (Go's and Alpine's advisories never do).
 */
export function severityOf(record: OsvRecord, affected?: OsvAffected): { severity: Severity; score?: number } {
  const entries: OsvSeverity[] = [...(affected?.severity ?? []), ...record.severity];
  for (const type of ["CVSS_V3", "CVSS_V4"]) {
    for (const s of entries.filter((e) => e.type === type)) {
      const score = /^\d+(\.\d+)?$/.test(s.score.trim()) ? Number(s.score) : cvssBaseScore(s.score);
      if (score !== undefined && score <= 10) return { severity: bandOf(score), score };
    }
  }
  // NVD's v2 bands have no critical: 7.0 and above is high.
  for (const s of entries.filter((e) => e.type === "CVSS_V2")) {
    const score = /^\d+(\.\d+)?$/.test(s.score.trim()) ? Number(s.score) : cvss2BaseScore(s.score);
    if (score !== undefined && score <= 10) return { severity: score >= 7 ? "high" : score >= 4 ? "medium" : "low", score };
  }
  const words = [
    ...entries.filter((e) => e.type === "Ubuntu").map((e) => e.score),
    record.database_specific?.severity,
    affected?.ecosystem_specific?.severity,
    affected?.ecosystem_specific?.ubuntu_priority,
    affected?.ecosystem_specific?.urgency,
    affected?.database_specific?.severity,
  ];
  for (const word of words) {
    const severity = severityOfWord(word);
    if (severity !== "unknown") return { severity };
  }
  return { severity: "unknown" };
}
