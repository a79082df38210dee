import { useState } from "preact/hooks";
import { api } from "../api";
import { Badge, ErrorBox, Loading, TableFrame } from "../components/common";
import { refusalFor } from "../components/admin-kit";
import { Maintenance } from "../components/registry-maintenance";
import { formatAgo, formatBytes, formatTime } from "../format";
import { useSession } from "../session";
import { useData } from "../use-data";

interface QuotaReport {
  limit: number;
  used: number;
  ratio: number;
  warning: boolean;
}

/** GET /api/v1/usage (registry/usage.ts RegistryUsageReport). */
interface UsageReport {
  computedAt: string;
  storedBytes: number;
  blobs: number;
  blobBytes: number;
  manifests: number;
  manifestBytes: number;
  unreferencedBlobs: number;
  unreferencedBytes: number;
  repositories: number;
  sumRepositoryBytes: number;
  deduplicationSavings: number;
  namespaces: { namespace: string; repositories: number; referencedBytes: number; quota?: QuotaReport }[];
}

/** GET /api/v1/webhooks (notify/ops.ts describeHealth). */
interface WebhookHealth {
  endpoint: string;
  configured: boolean;
  enabled?: boolean;
  format?: string;
  url?: string;
  backlog: number;
  failed: number;
  delivered?: number;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  lastError?: string;
}

/** Storage use and deduplication, garbage collection and retention, webhook health: administrators' (anyone's without access control). */
export function RegistryPage() {
  const { session } = useSession();
  const refused = refusalFor(session, "The registry page is for administrators.", session.admin);
  // A run changes what is stored: the figures are counted again after each.
  const [runs, setRuns] = useState(0);
  return (
    <section>
      <h1>Registry</h1>
      {refused ?? (
        <>
          <Usage runs={runs} />
          <Maintenance onRun={() => setRuns((n) => n + 1)} />
          <Webhooks />
        </>
      )}
    </section>
  );
}

function Figure({ label, value, note }: { label: string; value: string; note?: string }) {
  return (
    <div class="card">
      <div class="muted">{label}</div>
      <div class="figure">{value}</div>
      {note ? <div class="muted small-print">{note}</div> : null}
    </div>
  );
}

function Usage({ runs }: { runs: number }) {
  const [fresh, setFresh] = useState(0);
  const usage = useData(() => api<UsageReport>("/api/v1/usage", { query: { fresh: fresh + runs > 0 ? true : undefined } }), `usage|${fresh}|${runs}`);
  const u = usage.data;
  const saved = u && u.sumRepositoryBytes > 0 ? Math.round((u.deduplicationSavings / u.sumRepositoryBytes) * 100) : 0;
  return (
    <>
      <h2>Storage</h2>
      {usage.error ? <ErrorBox error={usage.error} /> : null}
      {usage.loading && !u ? <Loading what="Counting storage" /> : null}
      {u ? (
        <>
          <div class="cards">
            <Figure label="Stored" value={formatBytes(u.storedBytes)} note={`${u.blobs} blobs, ${u.manifests} manifests`} />
            <Figure label="Saved by deduplication" value={formatBytes(u.deduplicationSavings)} note={`${saved}% of ${formatBytes(u.sumRepositoryBytes)} the repositories reference`} />
            <Figure label="Repositories" value={String(u.repositories)} note={`in ${u.namespaces.length} namespaces`} />
            <Figure label="Unused, garbage collection frees" value={formatBytes(u.unreferencedBytes)} note={`${u.unreferencedBlobs} blobs nothing references`} />
          </div>
          <p class="muted">
            Counted {formatAgo(Date.parse(u.computedAt))} ({formatTime(Date.parse(u.computedAt))}; recounted at most once a minute).{" "}
            <button type="button" class="small" onClick={() => setFresh((n) => n + 1)} disabled={usage.loading}>
              Count again
            </button>
          </p>
          <h3 id="ns-usage">Namespaces</h3>
          {u.namespaces.length === 0 ? (
            <p>Nothing is stored yet.</p>
          ) : (
            <TableFrame labelledBy="ns-usage" className="wide" columns={["Namespace", { label: "Repositories", num: true }, { label: "Referenced", num: true }, "Quota"]}>
              {u.namespaces.map((ns) => (
                <tr key={ns.namespace}>
                  <td>{ns.namespace}</td>
                  <td class="num">{ns.repositories}</td>
                  <td class="num">{formatBytes(ns.referencedBytes)}</td>
                  <td>
                    {ns.quota ? (
                      <>
                        {formatBytes(ns.quota.used)} of {formatBytes(ns.quota.limit)}{" "}
                        <Badge kind={ns.quota.ratio >= 1 ? "bad" : ns.quota.warning ? "warn" : "good"}>{Math.round(ns.quota.ratio * 100)}%</Badge>
                      </>
                    ) : (
                      <span class="muted">none</span>
                    )}
                  </td>
                </tr>
              ))}
            </TableFrame>
          )}
        </>
      ) : null}
    </>
  );
}

function Webhooks() {
  const hooks = useData(() => api<WebhookHealth[]>("/api/v1/webhooks"), "webhooks");
  return (
    <>
      <h2 id="webhooks">Webhooks</h2>
      {hooks.error ? <ErrorBox error={hooks.error} /> : null}
      {hooks.loading && !hooks.data ? <Loading what="Loading webhook health" /> : null}
      {hooks.data && hooks.data.length === 0 ? <p>No webhook endpoints are configured.</p> : null}
      {hooks.data && hooks.data.length > 0 ? (
        <TableFrame labelledBy="webhooks" className="wide" columns={["Endpoint", "State", { label: "Backlog", num: true }, { label: "Failed", num: true }, "Last success", "Last failure", "Last error"]}>
          {hooks.data.map((h) => {
            const success = h.lastSuccessAt ? Date.parse(h.lastSuccessAt) : undefined;
            const failure = h.lastFailureAt ? Date.parse(h.lastFailureAt) : undefined;
            const healthy = h.failed === 0 && (failure === undefined || (success !== undefined && success > failure));
            return (
              <tr key={h.endpoint}>
                <td>
                  {h.endpoint}
                  {h.url ? <div class="muted mono">{h.url}</div> : null}
                </td>
                <td>
                  {!h.configured ? (
                    <Badge>no longer configured</Badge>
                  ) : h.enabled === false ? (
                    <Badge>disabled</Badge>
                  ) : (
                    <Badge kind={healthy ? "good" : "bad"}>{healthy ? "healthy" : "failing"}</Badge>
                  )}
                </td>
                <td class="num">{h.backlog}</td>
                <td class="num">{h.failed}</td>
                <td title={formatTime(success)}>{formatAgo(success)}</td>
                <td title={formatTime(failure)}>{formatAgo(failure)}</td>
                <td>{h.lastError ?? ""}</td>
              </tr>
            );
          })}
        </TableFrame>
      ) : null}
    </>
  );
}
