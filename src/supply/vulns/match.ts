import type { OsvAffected, OsvRange, OsvRecord } from "./osv.js";
import { severityOf, type Severity } from "./severity.js";
import { ecosystemBase, orderFor, semver, type VersionOrder } from "./versions/index.js";

/**
 * What matching needs of a package; structurally the shared `Package` of src/supply/packages.ts
 * (which carries purl and locations too).
 */
export interface MatchablePackage {
  /** OSV ecosystem with release: `Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.19`, `npm`, `PyPI`, `Go`. */
  ecosystem: string;
  name: string;
  version: string;
  /** The source package (dpkg `Source:`, apk `origin`): what Debian, Ubuntu and Alpine advisories name. */
  source?: { name: string; version: string };
}

/** One advisory that affects one installed package; plain JSON. */
export interface Finding {
  /** The OSV id: `DSA-5343-1`, `GHSA-…`, `GO-2022-0493`, `ALPINE-CVE-…`. */
  id: string;
  /** Other ids of the same vulnerability, CVE ids first (what allow-lists name). */
  aliases: string[];
  summary: string;
  severity: Severity;
  /** The CVSS base score the severity came from, when it came from one. */
  score?: number;
  /** The installed package's own name and version (a binary package for distributions). */
  package: string;
  installed: string;
  /** The source package the advisory named and whose version was compared, when it is not the package itself. */
  source?: { name: string; version: string };
  /** The lowest fixed version above the installed one, in the compared (source) versions; absent when no fix is known. */
  fixed?: string;
  ecosystem: string;
}

/** Distributions whose advisories name source packages. */
const BY_SOURCE = new Set(["Debian", "Ubuntu", "Alpine"]);

/**
 * The finding `record` makes for `pkg`, or undefined when it does not affect it. Follows the OSV
 * schema's evaluation: per affected entry of the package's ecosystem and name, an explicit
 * `versions[]` hit or any range (events sorted in the ecosystem's order; `introduced: "0"` is the
 * beginning; `fixed` and `limit` exclusive; `last_affected` inclusive) affects it. GIT ranges and
 * ECOSYSTEM ranges of ecosystems Berth cannot order are skipped; withdrawn records match nothing.
 */
export function matchPackage(record: OsvRecord, pkg: MatchablePackage): Finding | undefined {
  if (record.withdrawn) return undefined;
  const base = ecosystemBase(pkg.ecosystem);
  const bySource = BY_SOURCE.has(base) && pkg.source !== undefined;
  const name = bySource ? pkg.source!.name : pkg.name;
  const version = normaliseVersion(base, name, bySource ? pkg.source!.version : pkg.version);

  let hit: OsvAffected | undefined;
  const fixes: { order: VersionOrder; fixed: string }[] = [];
  for (const affected of record.affected) {
    if (!affected.package || !sameEcosystem(affected.package.ecosystem, pkg.ecosystem)) continue;
    if (!sameName(base, affected.package.name, name)) continue;
    let affects = listed(affected.versions, version, orderFor(pkg.ecosystem));
    for (const range of affected.ranges) {
      const order = orderOf(range, pkg.ecosystem);
      if (!order || !order.valid(version)) continue;
      if (inRange(range, version, order)) affects = true;
      for (const e of range.events) if ("fixed" in e) fixes.push({ order, fixed: normaliseVersion(base, name, e.fixed) });
    }
    if (affects) hit ??= affected;
  }
  if (!hit) return undefined;

  const above = fixes.filter((f) => f.order.valid(f.fixed) && f.order.compare(f.fixed, version) > 0);
  above.sort((a, b) => a.order.compare(a.fixed, b.fixed));
  const { severity, score } = severityOf(record, hit);
  return {
    id: record.id,
    aliases: aliasesOf(record),
    summary: summaryOf(record),
    severity,
    ...(score === undefined ? {} : { score }),
    package: pkg.name,
    installed: pkg.version,
    ...(bySource && (pkg.source!.name !== pkg.name || pkg.source!.version !== pkg.version) ? { source: pkg.source } : {}),
    ...(above[0] ? { fixed: above[0].fixed } : {}),
    ecosystem: pkg.ecosystem,
  };
}

function pep503(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/** `Debian:12` matches `Debian:12`; a release-less OSV ecosystem (`Debian`) matches every release. */
export function sameEcosystem(osvEcosystem: string, packageEcosystem: string): boolean {
  return osvEcosystem === packageEcosystem || osvEcosystem === ecosystemBase(packageEcosystem);
}

/** PEP 503 normalisation for PyPI (`Foo_Bar.baz` = `foo-bar-baz`); exact everywhere else. */
function sameName(base: string, osvName: string, name: string): boolean {
  return base === "PyPI" ? pep503(osvName) === pep503(name) : osvName === name;
}

/** Go toolchain versions as build info reports them (`go1.21.5`, `go1.22`, `go1.21rc2`) in the Go vulndb's semver form. */
function normaliseVersion(base: string, name: string, version: string): string {
  if (base !== "Go" || name !== "stdlib") return version;
  const m = /^(?:go|v)?(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$/.exec(version.trim());
  if (!m) return version;
  return `${m[1]}.${m[2]}.${m[3] ?? "0"}${m[4] ? `-${m[4]}.${m[5]}` : ""}`;
}

function orderOf(range: OsvRange, ecosystem: string): VersionOrder | undefined {
  if (range.type === "SEMVER") return semver;
  if (range.type === "ECOSYSTEM") return orderFor(ecosystem);
  return undefined;
}

function listed(versions: string[], version: string, order: VersionOrder | undefined): boolean {
  if (versions.includes(version)) return true;
  if (!order || !order.valid(version)) return false;
  return versions.some((v) => order.valid(v) && order.compare(v, version) === 0);
}

function isZero(event: { introduced: string } | object): boolean {
  return "introduced" in event && event.introduced === "0";
}

function eventVersion(e: OsvRange["events"][number]): string {
  return "introduced" in e ? e.introduced : "fixed" in e ? e.fixed : "last_affected" in e ? e.last_affected : e.limit;
}

/** The OSV schema's evaluation of one range, in version order. */
function inRange(range: OsvRange, version: string, order: VersionOrder): boolean {
  const limits = range.events.filter((e) => "limit" in e).map(eventVersion);
  if (limits.length && !limits.some((l) => order.compare(version, l) < 0)) return false;
  const events = range.events
    .filter((e) => !("limit" in e))
    .sort((a, b) => (isZero(a) ? (isZero(b) ? 0 : -1) : isZero(b) ? 1 : order.compare(eventVersion(a), eventVersion(b))));
  let affected = false;
  for (const e of events) {
    if ("introduced" in e) {
      if (isZero(e) || order.compare(version, e.introduced) >= 0) affected = true;
    } else if ("fixed" in e) {
      if (order.compare(version, e.fixed) >= 0) affected = false;
    } else if ("last_affected" in e) {
      if (order.compare(version, e.last_affected) > 0) affected = false;
    }
  }
  return affected;
}

/** Aliases and upstream ids, plus the CVE a distro's per-CVE id carries (`UBUNTU-CVE-2024-6387`); CVEs first. */
function aliasesOf(record: OsvRecord): string[] {
  const all = [...record.aliases, ...record.upstream];
  const embedded = /(?:^|-)(CVE-\d{4}-\d{4,})$/.exec(record.id);
  if (embedded && embedded[1] !== record.id) all.unshift(embedded[1]!);
  const unique = [...new Set(all)].filter((a) => a !== record.id);
  return [...unique.filter((a) => a.startsWith("CVE-")), ...unique.filter((a) => !a.startsWith("CVE-"))];
}

function summaryOf(record: OsvRecord): string {
  if (record.summary) return record.summary;
  const first = record.details?.trim().split("\n")[0] ?? "";
  return first.length > 200 ? `${first.slice(0, 197)}...` : first;
}
