import type { DomainEvent, EventLog } from "../registry/events.js";
import type { AuditEvent, AuthStore } from "../storage/auth-store.js";

type Entry = Omit<AuditEvent, "time" | "actor" | "source" | "result">;

/** The audit log's word for each event it keeps; events it has no word for (pushed blobs, pulls) are not audited. */
const ENTRIES: { [T in DomainEvent["type"]]?: (e: DomainEvent) => Entry | undefined } = {
  "manifest.pushed": (e) => ({ action: "push", repository: e.repository!, target: e.target!.digest!, detail: { tags: e.target?.tags ?? [] } }),
  "tag.moved": (e) => ({ action: "tag.move", repository: e.repository!, target: e.target!.tag!, detail: { to: e.target!.digest } }),
  "tag.deleted": (e) => ({ action: "tag.delete", repository: e.repository!, target: e.target!.tag!, ...withDetail(e.target?.digest ? { digest: e.target.digest, ...e.detail } : e.detail) }),
  "manifest.deleted": (e) => ({ action: "delete", repository: e.repository!, target: e.target!.digest!, ...withDetail(e.detail) }),
  "blob.deleted": (e) => ({ action: "delete", repository: e.repository!, target: e.target!.digest!, detail: { kind: "blob" } }),
  "repository.deleted": (e) => ({ action: "repo.delete", repository: e.repository!, target: e.repository!, ...withDetail(e.detail) }),
  "namespace.deleted": (e) => {
    const { namespace, ...detail } = e.detail as { namespace: string };
    return { action: "ns.del", target: namespace, detail };
  },
  // The counts the audit log has always kept of a collection; the manifests went as their own `delete` records.
  "gc.completed": (e) => {
    if (!isRun(e)) return undefined;
    const d = e.detail as { outcome: string; manifestsDeleted: number; blobsDeleted: number; bytesReclaimed: number; error?: string };
    // The rest of the report's numbers (not its item lists) for GET /api/v1/runs, which reads runs back from here.
    const more = Object.fromEntries((["durationMs", "repositories", "uploadsPurged", "linksRemoved"] as const).filter((k) => typeof e.detail?.[k] === "number").map((k) => [k, e.detail![k]]));
    return { action: "gc", detail: { manifests: d.manifestsDeleted ?? 0, blobs: d.blobsDeleted ?? 0, bytes: d.bytesReclaimed ?? 0, outcome: d.outcome, ...more, ...(d.error !== undefined ? { error: d.error } : {}) } };
  },
  "retention.completed": (e) => (isRun(e) ? { action: "retention", detail: e.detail! } : undefined),
  "secret.found": (e) => ({ action: "secret.found", repository: e.repository!, target: e.target!.digest!, ...withDetail(e.detail) }),
  "quota.refused": (e) => ({ action: "quota.refused", repository: e.repository!, ...withDetail(e.detail) }),
  "auth.denied": (e) => ({ action: "denied", ...(e.repository !== undefined ? { repository: e.repository } : {}), ...withDetail(e.detail) }),
  // Basic on /v2/ checks credentials on every uncached request: counted in metrics, not audited.
  "auth.login": (e) => {
    const { via, outcome: _o, ...detail } = e.detail as { via: string; outcome: string };
    return via === "basic" ? undefined : { action: "login", ...withDetail(via === "token" ? detail : { via, ...detail }) };
  },
  "auth.token_issued": (e) => ({ action: "token.issue", ...withDetail(e.detail) }),
  "access.changed": (e) => {
    const { op, target, ...detail } = e.detail as { op: string; target?: string };
    return { action: op, ...(target !== undefined ? { target } : {}), ...(e.repository !== undefined ? { repository: e.repository } : {}), ...withDetail(detail) };
  },
};

const withDetail = (detail: Record<string, unknown> | undefined) => (detail && Object.keys(detail).length > 0 ? { detail } : {});

/** A run that changed something: dry runs and runs another node's lock skipped are not audited. */
const isRun = (e: DomainEvent) => e.detail?.outcome !== "dry_run" && e.detail?.outcome !== "skipped";

/** Where an event came from, as the audit log has always said it: the client's address, else who started the work. */
function sourceOf(e: DomainEvent): string {
  if (e.request) return e.request.addr.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  const startedBy = e.detail?.startedBy;
  return typeof startedBy === "string" ? startedBy : (e.actor ?? "registry");
}

/** The audit record of an event, or undefined for events the audit log does not keep. */
export function auditEntry(e: DomainEvent): AuditEvent | undefined {
  const entry = ENTRIES[e.type]?.(e);
  if (!entry) return undefined;
  return { ...entry, time: e.time, ...(e.actor !== undefined ? { actor: e.actor } : {}), source: sourceOf(e), result: e.result === "refused" ? "denied" : (e.result ?? "ok") };
}

/**
 * Makes the audit log a subscriber of the event log: every change, refusal and access decision
 * the registry, the API, the CLI or a schedule makes is appended, awaited before the caller's
 * answer. Returns the unsubscribe function.
 */
export function subscribeAuditLog(events: EventLog, store: AuthStore): () => void {
  return events.subscribe(async (batch) => {
    for (const e of batch) {
      const entry = auditEntry(e);
      if (entry) await store.appendAudit(entry);
    }
  });
}
