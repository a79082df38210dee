import { useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { formatAgo, formatBytes, formatTime } from "../format";
import { useData } from "../use-data";
import { Badge, ErrorBox, Loading, TableFrame } from "./common";
import { asApiError, MaybeError, useConfirm } from "./admin-kit";
import { describeRun, formatDuration, GcReportView, RetentionReportView, type GcReport, type RetentionReport } from "./registry-reports";

type Kind = "gc" | "retention";

interface RunView {
  kind: Kind;
  time: number;
  outcome: string;
  actor?: string;
  source?: string;
  summary: Record<string, unknown>;
}

const NAMES: Record<Kind, string> = { gc: "Garbage collection", retention: "Retention" };

/** Starts a run; a 409 (another node or process holds the lock) becomes a clear message. */
async function start<R>(kind: Kind, query: Record<string, string | boolean | undefined>): Promise<R> {
  try {
    return await api<R>(`/api/v1/${kind}`, { method: "POST", query });
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) throw new ApiError(409, "CONFLICT", `another ${NAMES[kind].toLowerCase()} is running (on this or another node): try again when it has finished`);
    throw err;
  }
}

/**
 * Garbage collection or retention, dry run first: the real run is offered once a dry run has
 * shown what it would delete, and asks for confirmation. Each run's report is shown as it answers.
 */
function RunPanel({ kind, onRun }: { kind: Kind; onRun: () => void }) {
  const [report, setReport] = useState<GcReport | RetentionReport | undefined>();
  const [dryRunDone, setDryRunDone] = useState(false);
  const [untagged, setUntagged] = useState("");
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const confirm = useConfirm();
  const run = async (dryRun: boolean) => {
    setBusy(dryRun ? "Dry run…" : "Running…");
    setError(undefined);
    try {
      const query = { dryRun: dryRun ? true : undefined, ...(kind === "gc" && untagged ? { deleteUntagged: untagged } : {}) };
      setReport(await start<GcReport | RetentionReport>(kind, query));
      if (dryRun) setDryRunDone(true);
      else {
        setDryRunDone(false);
        onRun();
      }
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(undefined);
    }
  };
  const askRun = () => {
    const what =
      report && "blobsDeleted" in report
        ? `The dry run found ${report.manifestsDeleted} manifests and ${report.blobsDeleted} blobs (${formatBytes(report.bytesReclaimed)}) to delete.`
        : report && "tagsDeleted" in report
          ? `The dry run found ${report.tagsDeleted} tags and ${report.manifestsDeleted} untagged manifests to delete.`
          : "";
    confirm.ask({
      title: `Run ${NAMES[kind].toLowerCase()} now?`,
      body: (
        <p>
          {what} What is deleted cannot be restored; a push meanwhile is safe.
        </p>
      ),
      confirmLabel: kind === "gc" ? "Delete unused data" : "Delete expired tags",
      onConfirm: () => void run(false),
    });
  };
  const id = `run-${kind}`;
  return (
    <section class="card run-panel" aria-labelledby={id}>
      <h3 id={id}>{NAMES[kind]}</h3>
      <p class="muted">
        {kind === "gc"
          ? "Deletes blobs nothing references and, when told to, manifests no tag reaches."
          : "Deletes the tags the configured retention rules no longer keep."}
      </p>
      {kind === "gc" ? (
        <div class="toolbar">
          <label for="gc-untagged">Untagged manifests</label>
          <select id="gc-untagged" value={untagged} onChange={(e) => {
            setUntagged(e.currentTarget.value);
            setDryRunDone(false);
          }}>
            <option value="">as configured</option>
            <option value="true">delete them</option>
            <option value="false">keep them</option>
          </select>
        </div>
      ) : null}
      <div class="row">
        <button type="button" onClick={() => void run(true)} disabled={busy !== undefined}>
          {NAMES[kind] === "Retention" ? "Dry run retention" : "Dry run garbage collection"}
        </button>
        <button type="button" class="danger" onClick={askRun} disabled={busy !== undefined || !dryRunDone} aria-describedby={`${id}-hint`}>
          {kind === "gc" ? "Run garbage collection" : "Run retention"}
        </button>
      </div>
      <p id={`${id}-hint`} class="muted small-print">
        {dryRunDone ? "The real run deletes what the dry run found (or what has become unused since)." : "Start with a dry run: it shows what would be deleted and changes nothing."}
      </p>
      {busy ? <p role="status">{busy}</p> : null}
      <MaybeError error={error} />
      {report ? "blobsDeleted" in report ? <GcReportView report={report} /> : <RetentionReportView report={report} /> : null}
      {confirm.dialog}
    </section>
  );
}

/** Both run panels and the recent runs (GET /api/v1/runs). */
export function Maintenance({ onRun }: { onRun: () => void }) {
  const [kind, setKind] = useState<"" | Kind>("");
  const runs = useData(() => api<{ items: RunView[] }>("/api/v1/runs", { query: { kind: kind || undefined, limit: 20 } }), `runs|${kind}`);
  return (
    <>
      <h2>Garbage collection and retention</h2>
      <div class="cards wide">
        <RunPanel kind="gc" onRun={() => (runs.reload(), onRun())} />
        <RunPanel kind="retention" onRun={() => (runs.reload(), onRun())} />
      </div>
      <h3 id="recent-runs">Recent runs</h3>
      <div class="toolbar">
        <label for="runs-kind">Show</label>
        <select id="runs-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as "" | Kind)}>
          <option value="">both kinds</option>
          <option value="gc">garbage collection</option>
          <option value="retention">retention</option>
        </select>
      </div>
      {runs.error ? (
        runs.error.status === 404 ? (
          <p class="notice">The run history is kept in the audit log, which this server does not have (access control is off, or GET /api/v1/runs is missing).</p>
        ) : (
          <ErrorBox error={runs.error} />
        )
      ) : null}
      {runs.loading && !runs.data ? <Loading what="Loading recent runs" /> : null}
      {runs.data && runs.data.items.length === 0 ? <p>No garbage collection or retention run yet (dry runs are not kept).</p> : null}
      {runs.data && runs.data.items.length > 0 ? (
        <TableFrame labelledBy="recent-runs" className="wide" columns={["When", "Kind", "Outcome", "Report", "Took", "Started by"]}>
          {runs.data.items.map((r, i) => (
            <tr key={`${r.kind}-${r.time}-${i}`}>
              <td title={formatTime(r.time)}>{formatAgo(r.time)}</td>
              <td>{NAMES[r.kind] ?? r.kind}</td>
              <td>
                <Badge kind={r.outcome === "completed" ? "good" : r.outcome === "failed" ? "bad" : "warn"}>{r.outcome}</Badge>
              </td>
              <td>{describeRun(r.kind, r.summary)}</td>
              <td>{formatDuration(r.summary.durationMs)}</td>
              <td>
                {r.actor ?? "–"}
                {r.source && r.source !== r.actor ? <span class="muted"> from {r.source}</span> : null}
              </td>
            </tr>
          ))}
        </TableFrame>
      ) : null}
    </>
  );
}
