import { api } from "../api";
import { Badge, ErrorBox, Loading, TableFrame } from "../components/common";
import { formatTime } from "../format";
import { navigate } from "../router";
import { useData } from "../use-data";

interface AuditEntry {
  time: number;
  actor?: string;
  action: string;
  repository?: string;
  target?: string;
  result: "ok" | "denied" | "failed";
  source?: string;
  detail?: Record<string, unknown>;
}

const ACTIONS = [
  "login", "token.issue", "push", "tag.move", "tag.delete", "delete", "repo.delete", "ns.del", "denied", "user.add", "user.del", "user.passwd",
  "token.create", "token.revoke", "policy.change", "gc", "retention", "secret.found", "quota.refused",
];
const FILTERS = ["user", "repo", "action", "since", "until", "limit"] as const;

/** `2026-12-07T14:05` (a datetime-local field, the browser's time zone) as an ISO time for the API. */
const iso = (local: string): string | undefined => {
  const ms = Date.parse(local);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
};

/** The audit log, newest first, filtered by user, repository, action and time (GET /api/v1/audit). */
export function AdminAudit({ query }: { query: URLSearchParams }) {
  const get = (k: (typeof FILTERS)[number]) => query.get(k) ?? "";
  const limit = Number(get("limit")) || 100;
  const list = useData(
    () =>
      api<AuditEntry[]>("/api/v1/audit", {
        query: { user: get("user"), repo: get("repo"), action: get("action"), since: iso(get("since")), until: iso(get("until")), limit },
      }),
    query.toString(),
  );
  const submit = (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const next = new URLSearchParams();
    for (const k of FILTERS) {
      const v = String(data.get(k) ?? "").trim();
      if (v && !(k === "limit" && v === "100")) next.set(k, v);
    }
    const qs = next.toString();
    navigate(`/admin/audit${qs ? `?${qs}` : ""}`);
  };
  return (
    <>
      <form class="filters" onSubmit={submit} aria-label="Filter the audit log" key={query.toString()}>
        <div>
          <label for="audit-user">User</label>
          <input id="audit-user" name="user" defaultValue={get("user")} autocomplete="off" placeholder="admin or token:owner/name" />
        </div>
        <div>
          <label for="audit-repo">Repository</label>
          <input id="audit-repo" name="repo" defaultValue={get("repo")} autocomplete="off" />
        </div>
        <div>
          <label for="audit-action">Action</label>
          <input id="audit-action" name="action" defaultValue={get("action")} list="audit-actions" autocomplete="off" />
          <datalist id="audit-actions">
            {ACTIONS.map((a) => (
              <option value={a} />
            ))}
          </datalist>
        </div>
        <div>
          <label for="audit-since">Since</label>
          <input id="audit-since" name="since" type="datetime-local" defaultValue={get("since")} />
        </div>
        <div>
          <label for="audit-until">Until</label>
          <input id="audit-until" name="until" type="datetime-local" defaultValue={get("until")} />
        </div>
        <div>
          <label for="audit-limit">At most</label>
          <select id="audit-limit" name="limit">
            {[50, 100, 500, 1000].map((n) => (
              <option value={String(n)} selected={n === limit}>
                {n}
              </option>
            ))}
          </select>
        </div>
        <div class="row">
          <button type="submit" class="primary">
            Filter
          </button>
          <button type="button" onClick={() => navigate("/admin/audit")}>
            Clear
          </button>
        </div>
      </form>
      {list.error ? <ErrorBox error={list.error} /> : null}
      {list.loading && !list.data ? <Loading what="Loading the audit log" /> : null}
      {list.data ? (
        <>
          <p class="muted" role="status">
            {list.data.length === 0 ? "No entries match." : `${list.data.length} entr${list.data.length === 1 ? "y" : "ies"}, newest first${list.data.length >= limit ? ` (the first ${limit})` : ""}.`}
          </p>
          {list.data.length > 0 ? <AuditTable entries={list.data} /> : null}
        </>
      ) : null}
    </>
  );
}

function AuditTable({ entries }: { entries: AuditEntry[] }) {
  return (
    <TableFrame label="Audit log" className="wide audit" columns={["Time", "User", "Action", "Repository", "Target", "Result", "Source", "Detail"]}>
      {entries.map((e, i) => (
        <tr key={`${e.time}-${i}`}>
          <td class="nowrap">{formatTime(e.time)}</td>
          <td>{e.actor ?? <span class="muted">anonymous</span>}</td>
          <td>
            <code>{e.action}</code>
          </td>
          <td>{e.repository ?? ""}</td>
          <td class="mono">{e.target ?? ""}</td>
          <td>
            <Badge kind={e.result === "ok" ? "good" : e.result === "denied" ? "warn" : "bad"}>{e.result}</Badge>
          </td>
          <td>{e.source ?? ""}</td>
          <td class="mono detail">{e.detail && Object.keys(e.detail).length > 0 ? JSON.stringify(e.detail) : ""}</td>
        </tr>
      ))}
    </TableFrame>
  );
}
