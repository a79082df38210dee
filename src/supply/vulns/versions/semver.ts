import type { VersionOrder } from "./version-order.js";

/**
 * SemVer 2.0.0 precedence (§11): major.minor.patch numerically, a pre-release below its release,
 * pre-release identifiers numerically when numeric and below alphanumeric ones, build metadata
 * ignored. A leading `v` is accepted, as Go module versions carry one (`v0.0.0-2022…-33da011f77ad`).
 */
export const semver: VersionOrder = { name: "semver", compare, valid };

const NUM = "0|[1-9]\\d*";
const PRE_ID = `(?:${NUM}|\\d*[a-zA-Z-][0-9a-zA-Z-]*)`;
const PATTERN = new RegExp(
  `^v?(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+[0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*)?$`,
);

interface Parsed {
  core: [string, string, string];
  pre: string[];
}

function parse(version: string): Parsed | undefined {
  const m = PATTERN.exec(version.trim());
  if (!m) return undefined;
  return { core: [m[1]!, m[2]!, m[3]!], pre: m[4] === undefined ? [] : m[4].split(".") };
}

export function valid(version: string): boolean {
  return parse(version) !== undefined;
}

export function compare(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < 3; i++) {
    const c = compareNumeric(pa.core[i]!, pb.core[i]!);
    if (c) return c;
  }
  if (!pa.pre.length || !pb.pre.length) return pa.pre.length === pb.pre.length ? 0 : pa.pre.length ? -1 : 1;
  for (let i = 0; i < Math.min(pa.pre.length, pb.pre.length); i++) {
    const c = compareIdentifier(pa.pre[i]!, pb.pre[i]!);
    if (c) return c;
  }
  return Math.sign(pa.pre.length - pb.pre.length);
}

/** Numeric strings without leading zeros: longer is larger, so no precision is lost on huge numbers. */
function compareNumeric(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareIdentifier(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return compareNumeric(a.replace(/^0+(?=\d)/, ""), b.replace(/^0+(?=\d)/, ""));
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
