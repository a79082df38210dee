import { api, encodeName } from "../api";
import { Badge, ErrorBox, Loading, TableFrame } from "../components/common";
import { MaybeError, useAction } from "../components/admin-kit";
import { NamespaceDetail } from "../components/admin-members";
import { currentLocation, href, navigate } from "../router";
import { useData } from "../use-data";

/** A namespace as this page lists it, from either API. */
interface NamespaceRow {
  name: string;
  repositories: number;
  visibility?: string;
  owner?: string;
  members?: number;
  declared: boolean;
}

async function loadNamespaces(admin: boolean): Promise<NamespaceRow[]> {
  if (admin) return api<NamespaceRow[]>("/api/v1/namespaces");
  // Owners cannot read the catalog API; the browse list says which namespaces they own.
  const { items } = await api<{ items: { name: string; repositories: number; visibility: string; owner?: string; role?: string }[] }>("/api/v1/browse/namespaces");
  return items.filter((n) => n.role === "owner").map((n) => ({ ...n, declared: true }));
}

/**
 * Namespaces with their visibility, owner and members; administrators declare and change them
 * (PUT /api/v1/namespaces/<ns>), owners manage the members and repository visibility of theirs.
 */
export function AdminNamespaces({ admin }: { admin: boolean }) {
  const list = useData(() => loadNamespaces(admin), `namespaces|${admin}`);
  const action = useAction();
  const selected = currentLocation().query.get("ns") ?? undefined;
  const save = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const name = String(data.get("name")).trim();
    const owner = String(data.get("owner") ?? "").trim();
    void action
      .run(() => api(`/api/v1/namespaces/${encodeName(name)}`, { method: "PUT", body: { visibility: data.get("visibility"), ...(owner ? { owner } : {}) } }))
      .then((ok) => {
        if (!ok) return;
        form.reset();
        list.reload();
        navigate(`/admin/namespaces?ns=${encodeURIComponent(name)}`);
      });
  };
  return (
    <>
      {list.error ? <ErrorBox error={list.error} /> : null}
      {list.loading && !list.data ? <Loading what="Loading namespaces" /> : null}
      {list.data && list.data.length === 0 ? <p>{admin ? "No namespaces yet." : "You own no namespace."}</p> : null}
      {list.data && list.data.length > 0 ? (
        <TableFrame label="Namespaces" className="wide" columns={["Namespace", { label: "Repositories", num: true }, "Visibility", "Owner", admin && { label: "Members", num: true }]}>
          {list.data.map((ns) => (
            <tr key={ns.name}>
              <td>
                <a href={href(`/admin/namespaces?ns=${encodeURIComponent(ns.name)}`)} aria-current={ns.name === selected ? "true" : undefined}>
                  {ns.name}
                </a>
                {!ns.declared ? (
                  <Badge title="No access-control record: the default visibility applies and it has no members">undeclared</Badge>
                ) : null}
              </td>
              <td class="num">{ns.repositories}</td>
              <td>{ns.visibility ? <Badge kind={ns.visibility === "public" ? "warn" : "neutral"}>{ns.visibility}</Badge> : "–"}</td>
              <td>{ns.owner ?? "–"}</td>
              {admin ? <td class="num">{ns.members ?? 0}</td> : null}
            </tr>
          ))}
        </TableFrame>
      ) : null}
      {selected ? (
        <NamespaceDetail
          key={selected}
          name={selected}
          admin={admin}
          record={list.data?.find((n) => n.name === selected)}
          onChanged={list.reload}
        />
      ) : list.data && list.data.length > 0 ? (
        <p class="muted">Choose a namespace to manage its members and repositories.</p>
      ) : null}
      {admin ? (
        <>
          <h2>Create or change a namespace</h2>
          <form class="panel-form" onSubmit={save} aria-label="Create or change a namespace">
            <label for="ns-name">Namespace</label>
            <input id="ns-name" name="name" required autocomplete="off" placeholder="team" />
            <label for="ns-visibility">Visibility</label>
            <select id="ns-visibility" name="visibility">
              <option value="private">private: members only</option>
              <option value="public">public: anyone may pull</option>
            </select>
            <label for="ns-owner">Owner (optional)</label>
            <input id="ns-owner" name="owner" autocomplete="off" placeholder="a user name" />
            <div>
              <button type="submit" class="primary" disabled={action.busy}>
                Save namespace
              </button>
            </div>
            <MaybeError error={action.error} />
          </form>
        </>
      ) : null}
    </>
  );
}
