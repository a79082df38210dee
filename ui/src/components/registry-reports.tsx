import { formatBytes, formatTime, shortDigest } from "../format";
import { Badge, TableFrame } from "./common";

/** POST /api/v1/gc's answer (registry/gc.ts GcReport). */
export interface GcReport {
  dryRun: boolean;
  skipped?: string;
  aborted?: boolean;
  startedAt: string;
  durationMs: number;
  repositories: number;
  uploadsPurged: number;
  manifestsDeleted: number;
  linksRemoved: number;
  blobsDeleted: number;
  bytesReclaimed: number;
  manifests: { repository?: string; digest: string; size?: number }[];
  blobs: { repository?: string; digest: string; size?: number }[];
  truncated: boolean;
}

interface TagFacts {
  tag: string;
  digest: string;
  pushedAt: number;
}

/** POST /api/v1/retention's answer (registry/retention.ts RetentionReport). */
export interface RetentionReport {
  dryRun: boolean;
  skipped?: string;
  startedAt: string;
  durationMs: number;
  tagsDeleted: number;
  tagsKept: number;
  manifestsDeleted: number;
  repositories: { repository: string; rule: string; deleted: TagFacts[]; kept: (TagFacts & { reasons: string[] })[]; moved: TagFacts[]; untaggedManifests: string[] }[];
}

export const formatDuration = (ms: unknown): string =>
  typeof ms !== "number" ? "–" : ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function Heading({ dryRun, what, startedAt, durationMs }: { dryRun: boolean; what: string; startedAt: string; durationMs: number }) {
  return (
    <h3>
      {dryRun ? <Badge kind="warn">dry run</Badge> : <Badge kind="good">done</Badge>} {what}, started {formatTime(Date.parse(startedAt))}, took {formatDuration(durationMs)}
    </h3>
  );
}

/** A garbage collection's report: its figures, and what went (or would go), item by item. */
export function GcReportView({ report }: { report: GcReport }) {
  const verb = report.dryRun ? "Would delete" : "Deleted";
  return (
    <div class="report" aria-label={report.dryRun ? "Garbage collection dry run report" : "Garbage collection report"} role="region">
      <Heading dryRun={report.dryRun} what="Garbage collection" startedAt={report.startedAt} durationMs={report.durationMs} />
      {report.aborted ? <p class="error">Stopped partway (the server was shutting down); what it did is counted below.</p> : null}
      <dl class="facts">
        <dt>{report.dryRun ? "Would free" : "Freed"}</dt>
        <dd>
          <strong>{formatBytes(report.bytesReclaimed)}</strong>
        </dd>
        <dt>{verb}</dt>
        <dd>
          {count(report.manifestsDeleted, "manifest")}, {count(report.blobsDeleted, "blob")}, {count(report.linksRemoved, "blob link")}, {count(report.uploadsPurged, "stale upload")}
        </dd>
        <dt>Repositories checked</dt>
        <dd>{report.repositories}</dd>
      </dl>
      {report.manifestsDeleted + report.blobsDeleted === 0 ? <p>Nothing to delete: every manifest and blob is still in use.</p> : null}
      <ItemTable title={`Manifests ${report.dryRun ? "that would be " : ""}deleted`} items={report.manifests} />
      <ItemTable title={`Blobs ${report.dryRun ? "that would be " : ""}deleted`} items={report.blobs} />
      {report.truncated ? <p class="muted">The lists show the first 1,000 of each kind; the counts above are exact.</p> : null}
    </div>
  );
}

function ItemTable({ title, items }: { title: string; items: GcReport["manifests"] }) {
  if (items.length === 0) return null;
  return (
    <details open={items.length <= 10}>
      <summary>
        {title} ({items.length})
      </summary>
      <TableFrame label={title} className="wide" columns={["Repository", "Digest", { label: "Size", num: true }]}>
        {items.map((i) => (
          <tr key={`${i.repository ?? ""}@${i.digest}`}>
            <td>{i.repository ?? <span class="muted">shared store</span>}</td>
            <td class="mono" title={i.digest}>
              {shortDigest(i.digest)}
            </td>
            <td class="num">{formatBytes(i.size)}</td>
          </tr>
        ))}
      </TableFrame>
    </details>
  );
}

/** A retention run's report: per repository, its rule, the tags deleted and kept (with why). */
export function RetentionReportView({ report }: { report: RetentionReport }) {
  return (
    <div class="report" role="region" aria-label={report.dryRun ? "Retention dry run report" : "Retention report"}>
      <Heading dryRun={report.dryRun} what="Retention" startedAt={report.startedAt} durationMs={report.durationMs} />
      <dl class="facts">
        <dt>Tags {report.dryRun ? "that would be " : ""}deleted</dt>
        <dd>
          <strong>{report.tagsDeleted}</strong>
        </dd>
        <dt>Tags kept</dt>
        <dd>{report.tagsKept}</dd>
        <dt>Untagged manifests {report.dryRun ? "that would be " : ""}removed</dt>
        <dd>{report.manifestsDeleted}</dd>
      </dl>
      {report.repositories.length === 0 ? (
        <p>No retention rule covers any repository (rules are set in the configuration file, under <code>retention.rules</code>).</p>
      ) : (
        <TableFrame label="Retention by repository" className="wide" columns={["Repository", "Rule", report.dryRun ? "Would delete" : "Deleted", "Kept"]}>
          {report.repositories.map((r) => (
            <tr key={r.repository}>
              <td>{r.repository}</td>
              <td>{r.rule}</td>
              <td>
                {r.deleted.length === 0 ? <span class="muted">none</span> : r.deleted.map((t) => <code class="scope" title={t.digest}>{t.tag}</code>)}
                {r.untaggedManifests.length > 0 ? <div class="muted">+ {count(r.untaggedManifests.length, "untagged manifest")}</div> : null}
                {r.moved.length > 0 ? <div class="muted">{count(r.moved.length, "tag")} moved meanwhile, left alone</div> : null}
              </td>
              <td>
                {r.kept.map((t) => (
                  <div>
                    <code title={t.digest}>{t.tag}</code> <span class="muted small-print">{t.reasons.join(", ")}</span>
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </TableFrame>
      )}
    </div>
  );
}

/** A recorded run's summary numbers (GET /api/v1/runs), in words. */
export function describeRun(kind: string, s: Record<string, unknown>): string {
  const n = (k: string) => (typeof s[k] === "number" ? (s[k] as number) : 0);
  if (typeof s.error === "string") return `failed: ${s.error}`;
  if (kind === "gc") {
    return `${count(n("manifestsDeleted"), "manifest")} and ${count(n("blobsDeleted"), "blob")} deleted, ${formatBytes(n("bytesReclaimed"))} freed`;
  }
  return `${count(n("tagsDeleted"), "tag")} deleted, ${n("tagsKept")} kept, ${count(n("manifestsDeleted"), "manifest")} removed`;
}
