import type { ServerResponse } from "node:http";
import { RegistryError } from "../../oci/errors.js";
import type { AuditEvent, AuthStore } from "../../storage/auth-store.js";
import { reply } from "../respond.js";

export type RunKind = "gc" | "retention";

/** One recorded garbage collection or retention run. */
export interface RunView {
  kind: RunKind;
  /** When it ended (epoch ms). */
  time: number;
  /** completed, aborted (gc stopped partway) or failed. */
  outcome: string;
  /** Who started it: an administrator, `cli`, `schedule`. */
  actor?: string;
  /** Where from: the client's address for an API call, else who started it. */
  source?: string;
  /** Always false: dry runs change nothing and are not recorded (POST … ?dryRun=true answers with the report). */
  dryRun: boolean;
  /**
   * The report's numbers: gc `{manifestsDeleted, blobsDeleted, bytesReclaimed, durationMs?,
   * repositories?, uploadsPurged?, linksRemoved?}`, retention `{tagsDeleted, tagsKept,
   * manifestsDeleted, durationMs}`; `error` for a failed run.
   */
  summary: Record<string, unknown>;
}

const MAX_LIMIT = 500;

/** A run as the audit log keeps it (auth/audit-log.ts). */
export function runOf(kind: RunKind, e: AuditEvent): RunView {
  const { outcome, dryRun: _d, manifests, blobs, bytes, ...rest } = (e.detail ?? {}) as Record<string, unknown>;
  const summary = kind === "gc" ? { manifestsDeleted: manifests ?? 0, blobsDeleted: blobs ?? 0, bytesReclaimed: bytes ?? 0, ...rest } : rest;
  return {
    kind,
    time: e.time,
    outcome: typeof outcome === "string" ? outcome : e.result === "failed" ? "failed" : "completed",
    ...(e.actor !== undefined ? { actor: e.actor } : {}),
    ...(e.source !== undefined ? { source: e.source } : {}),
    dryRun: false,
    summary,
  };
}

/**
 * Recent maintenance runs, newest first, administrators only, JSON out:
 *
 *   GET /api/v1/runs[?kind=gc|retention][&limit=N]  → {items: [{kind, time, outcome, actor?, source?, dryRun, summary}]}
 *
 * Read from the audit log, where every run that changed something or failed is written (by every
 * node, and by `berth gc` / `berth retention`), so the history lasts as long as the audit log
 * (it is never pruned). Dry runs and runs skipped for another node's lock are not recorded.
 * `limit`: 1 to 500, 20 by default; without `kind`, the newest of both kinds.
 * Only with access control on (the audit log lives in its store). Errors: 400 INVALID.
 */
export async function handleRunsApi(store: AuthStore, url: URL, res: ServerResponse): Promise<void> {
  const kindParam = url.searchParams.get("kind");
  if (kindParam !== null && kindParam !== "gc" && kindParam !== "retention") throw new RegistryError("INVALID", "kind must be gc or retention", { kind: kindParam });
  const limitParam = url.searchParams.get("limit");
  const limit = limitParam === null ? 20 : Number(limitParam);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new RegistryError("INVALID", `limit must be a whole number from 1 to ${MAX_LIMIT}`, { limit: limitParam });
  const kinds: RunKind[] = kindParam ? [kindParam] : ["gc", "retention"];
  const runs = (await Promise.all(kinds.map(async (kind) => (await store.queryAudit({ action: kind, limit })).map((e) => runOf(kind, e))))).flat();
  runs.sort((a, b) => b.time - a.time);
  reply(res, 200, { "Cache-Control": "no-store" }, { items: runs.slice(0, limit) });
}
