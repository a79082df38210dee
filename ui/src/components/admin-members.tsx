import { useState } from "preact/hooks";
import { api, encodeName } from "../api";
import { useData } from "../use-data";
import { Badge, ErrorBox, Loading, TableFrame, Notice } from "./common";
import { MaybeError, useAction, useConfirm } from "./admin-kit";

interface Member {
  user: string;
  role: string;
}

const ROLES = ["reader", "writer", "maintainer", "owner"] as const;

/**
 * One namespace: its settings (administrators), its members (add, change role, remove) and the
 * visibility of its repositories. Owners manage readers, writers and maintainers; owners are the
 * administrators' to make, change and remove (the server enforces it; the page does not offer it).
 */
export function NamespaceDetail({ name, admin, record, onChanged }: { name: string; admin: boolean; record?: { visibility?: string; owner?: string } | undefined; onChanged: () => void }) {
  const members = useData(() => api<Member[]>(`/api/v1/namespaces/${encodeName(name)}/members`), `members|${name}`);
  const action = useAction();
  const confirm = useConfirm();
  const [done, setDone] = useState<string | undefined>();
  const roles = admin ? ROLES : ROLES.filter((r) => r !== "owner");
  const change = (what: string, work: () => Promise<unknown>) =>
    void action.run(work).then((ok) => {
      if (ok) setDone(what);
      members.reload();
      onChanged();
    });
  const setRole = (user: string, role: string) =>
    change(`${user} is now ${role} of ${name}.`, () => api(`/api/v1/namespaces/${encodeName(name)}/members/${encodeName(user)}`, { method: "PUT", body: { role } }));
  const askRemove = (m: Member) =>
    confirm.ask({
      title: `Remove ${m.user} from ${name}?`,
      body: <p>{m.user} loses the {m.role} role in {name} at once (their robot tokens too).</p>,
      confirmLabel: "Remove member",
      onConfirm: () => change(`${m.user} removed from ${name}.`, () => api(`/api/v1/namespaces/${encodeName(name)}/members/${encodeName(m.user)}`, { method: "DELETE" })),
    });
  const add = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const user = String(data.get("user")).trim();
    setRole(user, String(data.get("role")));
    form.reset();
  };
  return (
    <section class="detail" aria-labelledby="ns-detail-title">
      <h2 id="ns-detail-title">Namespace {name}</h2>
      {record?.visibility ? (
        <p>
          Visibility <Badge>{record.visibility}</Badge> {record.owner ? <>· owner {record.owner}</> : null}
        </p>
      ) : null}
      <Notice text={done} />
      <MaybeError error={action.error} />
      <h3>Members</h3>
      {members.error ? <ErrorBox error={members.error} /> : null}
      {members.loading && !members.data ? <Loading what="Loading members" /> : null}
      {members.data && members.data.length === 0 ? <p>No members yet.</p> : null}
      {members.data && members.data.length > 0 ? (
        <TableFrame label={`Members of ${name}`} className="wide" columns={["User", "Role", { label: "Actions", hidden: true }]}>
          {members.data.map((m) => {
            const locked = !admin && m.role === "owner";
            return (
              <tr key={m.user}>
                <td>{m.user}</td>
                <td>
                  {locked ? (
                    <Badge title="Only administrators change owners">owner</Badge>
                  ) : (
                    <select aria-label={`Role of ${m.user}`} value={m.role} disabled={action.busy} onChange={(e) => setRole(m.user, e.currentTarget.value)}>
                      {roles.map((r) => (
                        <option value={r}>{r}</option>
                      ))}
                    </select>
                  )}
                </td>
                <td>
                  {locked ? null : (
                    <button type="button" class="small danger" onClick={() => askRemove(m)} aria-label={`Remove ${m.user} from ${name}`}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </TableFrame>
      ) : null}
      <form class="panel-form inline" onSubmit={add} aria-label={`Add a member to ${name}`}>
        <div>
          <label for="member-user">User</label>
          <input id="member-user" name="user" required autocomplete="off" />
        </div>
        <div>
          <label for="member-role">Role</label>
          <select id="member-role" name="role">
            {roles.map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={action.busy}>
          Add member
        </button>
      </form>
      <p class="muted">Readers pull; writers also push and untag; maintainers also delete; owners also manage members.</p>
      <RepositoryVisibility namespace={name} admin={admin} onChanged={setDone} />
      {confirm.dialog}
    </section>
  );
}

interface RepositoryRow {
  name: string;
  tags: number;
  visibility?: string;
}

/** Each repository's visibility: public, private, or as its namespace says (PUT …/visibility). */
function RepositoryVisibility({ namespace, admin, onChanged }: { namespace: string; admin: boolean; onChanged: (what: string) => void }) {
  // Administrators read the catalog API, which is theirs only; owners the browse list of what they may pull.
  const repos = useData(async () => {
    if (admin) return api<RepositoryRow[]>("/api/v1/repositories", { query: { namespace, n: 100 } });
    const page = await api<{ items: (RepositoryRow & { namespace: string })[] }>("/api/v1/browse/repositories", { query: { q: `${namespace}/`, n: 100 } });
    return page.items.filter((r) => r.namespace === namespace);
  }, `repos|${namespace}|${admin}`);
  const action = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const repository = String(data.get("repository")).trim();
    const visibility = String(data.get("visibility"));
    void action.run(() => api(`/api/v1/repositories/${encodeName(repository)}/visibility`, { method: "PUT", body: { visibility } })).then((ok) => {
      if (!ok) return;
      onChanged(visibility === "inherit" ? `${repository} now follows ${namespace}'s visibility.` : `${repository} is now ${visibility}.`);
      repos.reload();
    });
  };
  return (
    <>
      <h3>Repository visibility</h3>
      {repos.error && !admin ? (
        // Without A1's browse API (before it lands) the admin API answers in its place, refusing owners.
        <p class="muted">This server cannot list the namespace's repositories for you ({repos.error.message}): name the repository below.</p>
      ) : repos.error ? (
        <ErrorBox error={repos.error} />
      ) : null}
      {repos.data && repos.data.length > 0 ? (
        <TableFrame label={`Repositories of ${namespace}`} className="wide" columns={["Repository", { label: "Tags", num: true }, "Visibility now"]}>
          {repos.data.map((r) => (
            <tr key={r.name}>
              <td>{r.name}</td>
              <td class="num">{r.tags}</td>
              <td>{r.visibility ?? "–"}</td>
            </tr>
          ))}
        </TableFrame>
      ) : null}
      <form class="panel-form inline" onSubmit={submit} aria-label={`Set a repository's visibility in ${namespace}`}>
        <div>
          <label for="vis-repo">Repository</label>
          <input id="vis-repo" name="repository" required defaultValue={`${namespace}/`} autocomplete="off" list="vis-repos" />
          <datalist id="vis-repos">
            {(repos.data ?? []).map((r) => (
              <option value={r.name} />
            ))}
          </datalist>
        </div>
        <div>
          <label for="vis-value">Visibility</label>
          <select id="vis-value" name="visibility">
            <option value="inherit">as the namespace</option>
            <option value="public">public</option>
            <option value="private">private</option>
          </select>
        </div>
        <button type="submit" disabled={action.busy}>
          Set visibility
        </button>
      </form>
      <MaybeError error={action.error} />
    </>
  );
}
