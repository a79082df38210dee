import type { Digest } from "../oci/digest.js";
import { RegistryError } from "../oci/errors.js";
import { globMatch } from "../oci/glob.js";
import type { EventLog, Origin } from "./events.js";
import type { MetadataStore } from "../storage/metadata-store.js";
import type { QuotaPolicy } from "./policies.js";

export type { QuotaPolicy, QuotaRule } from "./policies.js";

/** A quota that applies to a repository, and where it stands. */
export interface QuotaStatus {
  kind: "namespace" | "repository";
  /** The namespace or the repository the limit is on. */
  scope: string;
  rule: string;
  limit: number;
  used: number;
  warnAt: number;
}

/** What a push adds, for the check before it. */
export interface QuotaCharge {
  /** Bytes that add to the usage whatever the scope (a manifest's own bytes, a chunk). */
  bytes?: number;
  /** Blobs with their sizes; each adds its size only to scopes that do not reference it yet. */
  blobs?: readonly { digest: Digest; size: number }[];
  /** A new upload session: refused when a scope is already at or over its limit. */
  session?: boolean;
}

/** Storage quotas: checks before pushes, and the warning threshold. */
export interface Quotas {
  readonly enabled: boolean;
  /** The quotas that apply to `repo` (at most one namespace rule and one repository rule), without usage. */
  rulesFor(repo: string): Omit<QuotaStatus, "used">[];
  /** The quotas of `repo` with their current usage. */
  status(repo: string): Promise<QuotaStatus[]>;
  /**
   * Refuses (DENIED, 403) a push to `repo` that would take a scope over its limit. Quotas are
   * checked, not reserved: concurrent pushes can each pass and together overshoot by what they
   * carry; the manifest PUT that would complete an image over the limit is refused.
   */
  check(repo: string, charge: QuotaCharge, origin?: Origin): Promise<void>;
  /**
   * Bytes `repo` may still add before one of its scopes goes over its limit (`Infinity` when no
   * quota applies; 0 when a scope is at or over). For bodies of unknown length, counted as they arrive.
   */
  allowance(repo: string): Promise<number>;
  /** The warning for `repo`'s scopes as of their last check (for a response header), if above the threshold. */
  warning(repo: string): string | undefined;
}

export const namespaceOf = (repo: string): string => repo.split("/", 1)[0]!;

/** `1.5 GiB`, `512 B`: binary units, as in the configuration. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function createQuotas(metadata: MetadataStore, policy: QuotaPolicy, events: EventLog): Quotas {
  const namespaceRules = policy.rules.filter((r) => r.namespace !== undefined);
  const repositoryRules = policy.rules.filter((r) => r.repositories !== undefined);
  /** Last known usage per scope key, and whether it was above the threshold. */
  const last = new Map<string, { status: QuotaStatus; above: boolean }>();
  const key = (s: Pick<QuotaStatus, "kind" | "scope">) => `${s.kind}:${s.scope}`;

  function rulesFor(repo: string): Omit<QuotaStatus, "used">[] {
    const found: Omit<QuotaStatus, "used">[] = [];
    const ns = namespaceOf(repo);
    const nsRule = namespaceRules.find((r) => globMatch(r.namespace!, ns));
    if (nsRule) found.push({ kind: "namespace", scope: ns, rule: nsRule.name, limit: nsRule.limit, warnAt: nsRule.warnAt ?? policy.warnAt });
    const repoRule = repositoryRules.find((r) => globMatch(r.repositories!, repo));
    if (repoRule) {
      found.push({ kind: "repository", scope: repo, rule: repoRule.name, limit: repoRule.limit, warnAt: repoRule.warnAt ?? policy.warnAt });
    }
    return found;
  }

  const used = (q: Omit<QuotaStatus, "used">) => metadata.scopeBytes(q.scope, { exact: q.kind === "repository" });
  const describe = (s: QuotaStatus) =>
    `${s.kind} ${s.scope} uses ${formatBytes(s.used)} of ${formatBytes(s.limit)} (${Math.floor((s.used / s.limit) * 100)}%, quota rule "${s.rule}")`;

  /**
   * Records where a scope stands after a check, with a `quota.warning` event each time it goes above
   * the threshold (the check's caller is not kept waiting for it).
   */
  function record(status: QuotaStatus, repo: string, origin: Origin | undefined): void {
    const above = status.used > status.warnAt * status.limit;
    const before = last.get(key(status));
    last.set(key(status), { status, above });
    if (above && !before?.above) {
      const detail = { kind: status.kind, scope: status.scope, used: status.used, limit: status.limit, rule: status.rule, message: describe(status) };
      void events.emit([events.event("quota.warning", { repository: repo, detail }, origin)]);
    }
  }

  return {
    enabled: policy.rules.length > 0,
    rulesFor,
    async status(repo) {
      return Promise.all(rulesFor(repo).map(async (q) => ({ ...q, used: await used(q) })));
    },

    async check(repo, charge, origin) {
      for (const q of rulesFor(repo)) {
        const now = await used(q);
        let adding = charge.bytes ?? 0;
        if (charge.blobs?.length) {
          const present = new Set(await metadata.blobsInScope(q.scope, charge.blobs.map((b) => b.digest), { exact: q.kind === "repository" }));
          for (const b of new Map(charge.blobs.map((b) => [b.digest, b.size]))) if (!present.has(b[0])) adding += b[1];
        }
        const full = charge.session === true && now >= q.limit;
        if (full || (adding > 0 && now + adding > q.limit)) {
          const status = { ...q, used: now };
          record(status, repo, origin);
          await events.emit([events.event("quota.refused", { repository: repo, result: "refused", detail: { kind: q.kind, scope: q.scope, used: now, limit: q.limit, adding, rule: q.rule } }, origin)]);
          const what = full ? "no new upload is accepted" : `this push would add ${formatBytes(adding)}`;
          throw new RegistryError("DENIED", `quota exceeded: ${describe(status)}; ${what}`, {
            [q.kind]: q.scope,
            used: now,
            limit: q.limit,
            adding,
            rule: q.rule,
          });
        }
        record({ ...q, used: now + adding }, repo, origin);
      }
    },

    async allowance(repo) {
      let left = Infinity;
      for (const q of rulesFor(repo)) left = Math.min(left, Math.max(0, q.limit - (await used(q))));
      return left;
    },

    warning(repo) {
      const messages = rulesFor(repo)
        .map((q) => last.get(key(q)))
        .filter((s) => s?.above)
        .map((s) => describe(s!.status));
      return messages.length > 0 ? messages.join("; ") : undefined;
    },

  };
}
