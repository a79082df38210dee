import type { Config } from "../../config/schema.js";
import { silentLogger, type Logger } from "../../logger.js";
import type { SupplyStore } from "../../storage/supply-store.js";
import type { Package } from "../packages.js";
import { matchPackage, type Finding } from "./match.js";
import { parseOsvRecord, type OsvRecord } from "./osv.js";
import { ecosystemFamily, osvKey, osvStatus, OSV_KIND } from "./osv-keys.js";
import type { PullRefusal } from "../pull-gate.js";
import { policyFor, refusal } from "./pull-policy.js";
import { severityRank, type Severity } from "./severity.js";

/** Where the packages of an image come from: its stored SBOM (sbom/), never its layers. */
export interface SbomSource {
  /** The packages of the image manifest `digest` in `repo`; undefined while it has no SBOM. */
  packagesOf(repo: string, digest: string): Promise<{ packages: Package[] } | undefined>;
}

export interface VulnerabilitiesDeps {
  store: SupplyStore;
  sboms: SbomSource;
  config: Pick<Config, "vulnerabilities">;
  logger?: Logger;
  /** Images whose findings stay cached (default 1,000). */
  cacheSize?: number;
  /**
   * How long the database generation read last is trusted (default 2 s): a pull checks the
   * store at most this often, and an import on any node shows within this delay.
   */
  generationTtlMs?: number;
}

/** `scanned` when there were both an SBOM and a database to match it against. */
export type ScanStatus = "no-sbom" | "no-database" | "scanned";

/** The vulnerability part of an image's supply-chain report; plain JSON. */
export interface VulnerabilityReport {
  status: ScanStatus;
  /** The database matched against: its generation (0: nothing imported) and last import (ISO time). */
  database: { generation: number; importedAt?: string };
  counts: Record<Severity, number>;
  /** Worst first, then by id. */
  findings: Finding[];
}

/**
 * Offline vulnerability matching of stored images against the OSV database imported with
 * `berth vulndb import`. Results are cached per image digest and database generation: an
 * import (on any node) makes the next call recompute from the stored SBOM, never from layers.
 */
export interface Vulnerabilities {
  /** The findings of the image, worst first, or undefined while it has no SBOM. */
  findings(repo: string, digest: string): Promise<Finding[] | undefined>;
  report(repo: string, digest: string): Promise<VulnerabilityReport>;
  /**
   * Whether the repository's policy (`vulnerabilities.policies`, first matching glob) refuses a
   * pull of the image: undefined when it may be pulled. An image without an SBOM yet (still being
   * generated, or not an image) and any image while no database is imported are allowed: the
   * policy refuses what it knows to be vulnerable, it does not hold images until they are scanned.
   */
  checkPull(repo: string, digest: string): Promise<PullRefusal | undefined>;
}

/** Distributions whose advisories name source packages. */
const BY_SOURCE = new Set(["Debian", "Ubuntu", "Alpine"]);

interface Candidate {
  pkg: Package;
  /** Keys in order of preference: the source package's, then the binary's own. */
  keys: string[];
}

function candidateOf(pkg: Package): Candidate {
  const own = osvKey(pkg.ecosystem, pkg.name);
  if (!BY_SOURCE.has(ecosystemFamily(pkg.ecosystem)) || !pkg.source) return { pkg, keys: [own] };
  const bySource = osvKey(pkg.ecosystem, pkg.source.name);
  return { pkg, keys: bySource === own ? [own] : [bySource, own] };
}

function withoutSource({ source: _source, ...rest }: Package): Package {
  return rest;
}

const EMPTY_COUNTS = (): Record<Severity, number> => ({ critical: 0, high: 0, medium: 0, low: 0, unknown: 0 });

const byWorst = (a: Finding, b: Finding) =>
  severityRank(b.severity) - severityRank(a.severity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : a.package < b.package ? -1 : a.package > b.package ? 1 : 0);

export function createVulnerabilities(deps: VulnerabilitiesDeps): Vulnerabilities {
  const { store, sboms } = deps;
  const logger = deps.logger ?? silentLogger;
  const cacheSize = deps.cacheSize ?? 1000;
  const ttl = deps.generationTtlMs ?? 2000;
  /** Insertion order is recency: a hit is re-inserted, the oldest entry goes first. */
  const cache = new Map<string, { generation: number; findings: Promise<Finding[] | undefined> }>();
  let known: { generation: number; at: number } | undefined;
  let status: { generation: number; importedAt?: string } | undefined;

  const generation = async () => {
    const now = Date.now();
    if (known && now - known.at < ttl) return known.generation;
    known = { generation: await store.supplyGeneration(OSV_KIND), at: now };
    return known.generation;
  };

  const compute = async (repo: string, digest: string): Promise<Finding[] | undefined> => {
    const sbom = await sboms.packagesOf(repo, digest);
    if (!sbom) return undefined;
    const candidates = sbom.packages.map(candidateOf);
    const stored = await store.getSupplyRecords(OSV_KIND, [...new Set(candidates.flatMap((c) => c.keys))]);
    const parsed = new Map<string, OsvRecord[]>();
    const recordsOf = (key: string) => {
      let records = parsed.get(key);
      if (!records) {
        records = [];
        for (const advisory of JSON.parse(stored.get(key)!.value) as unknown[]) {
          try {
            records.push(parseOsvRecord(advisory));
          } catch (err) {
            logger.warn("unusable advisory in the vulnerability database (re-import it)", { key, error: (err as Error).message });
          }
        }
        parsed.set(key, records);
      }
      return records;
    };
    const found = new Map<string, Finding>();
    for (const { pkg, keys } of candidates) {
      const key = keys.find((k) => stored.has(k));
      if (!key) continue;
      // Found under its own name only: the advisory names the binary package, so compare its own version.
      const subject = key === keys[0] ? pkg : withoutSource(pkg);
      for (const record of recordsOf(key)) {
        const finding = matchPackage(record, subject);
        if (finding) found.set(`${finding.id}\0${finding.package}`, finding);
      }
    }
    return [...found.values()].sort(byWorst);
  };

  const findings = async (repo: string, digest: string): Promise<Finding[] | undefined> => {
    const gen = await generation();
    const hit = cache.get(digest);
    if (hit && hit.generation === gen) {
      cache.delete(digest);
      cache.set(digest, hit);
      return hit.findings;
    }
    const entry = { generation: gen, findings: compute(repo, digest) };
    cache.delete(digest);
    cache.set(digest, entry);
    while (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    try {
      const result = await entry.findings;
      // No SBOM yet: ask again next time rather than remember its absence.
      if (result === undefined && cache.get(digest) === entry) cache.delete(digest);
      return result;
    } catch (err) {
      if (cache.get(digest) === entry) cache.delete(digest);
      throw err;
    }
  };

  const database = async () => {
    const gen = await generation();
    if (status?.generation !== gen) {
      const { ecosystems } = await osvStatus(store);
      const last = Math.max(0, ...ecosystems.map((e) => e.importedAt));
      status = { generation: gen, ...(last > 0 ? { importedAt: new Date(last).toISOString() } : {}) };
    }
    return status;
  };

  return {
    findings,
    async report(repo, digest) {
      const db = await database();
      const counts = EMPTY_COUNTS();
      if (db.generation === 0) return { status: "no-database", database: db, counts, findings: [] };
      const list = await findings(repo, digest);
      if (!list) return { status: "no-sbom", database: db, counts, findings: [] };
      for (const f of list) counts[f.severity]++;
      return { status: "scanned", database: db, counts, findings: list };
    },
    async checkPull(repo, digest) {
      const policy = policyFor(deps.config.vulnerabilities.policies, repo);
      if (!policy || policy.refuseAt === "none") return undefined;
      const list = await findings(repo, digest);
      return list ? refusal(policy, list) : undefined;
    },
  };
}
