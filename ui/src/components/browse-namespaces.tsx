import { useState } from "preact/hooks";
import { api } from "../api";
import { formatBytes } from "../format";
import { href } from "../router";
import { useData } from "../use-data";
import { ErrorBox, TableFrame } from "./common";
import { QuotaUse } from "./browse-common";
import type { NamespaceItem } from "./browse-types";

/** Namespaces listed before "Show all": the repository list stays the page's subject. */
const FIRST = 10;

/** The namespaces the caller can see with their size and quota use; a name filters the list to it. */
export function NamespacesSection({ active }: { active: string | undefined }) {
  const list = useData(() => api<{ items: NamespaceItem[] }>("/api/v1/browse/namespaces"), "namespaces");
  const [all, setAll] = useState(false);
  if (list.loading && !list.data) return null;
  const items = list.data?.items ?? [];
  const shown = all ? items : items.slice(0, FIRST);
  return (
    <section aria-labelledby="namespaces-heading">
      <h2 id="namespaces-heading">Namespaces</h2>
      {list.error ? (
        list.error.status === 404 ? (
          <p class="muted">This server does not list namespaces (GET /api/v1/browse/namespaces is missing).</p>
        ) : (
          <ErrorBox error={list.error} />
        )
      ) : null}
      {list.data && list.data.items.length === 0 ? <p class="muted">No namespace yet.</p> : null}
      {list.data && list.data.items.length > 0 ? (
        <TableFrame label="Namespaces" region className="browse-table" columns={["Namespace", { label: "Repositories", num: true }, { label: "Size", num: true }, "Quota", "Visibility"]}>
          {shown.map((ns) => (
            <tr key={ns.name}>
              <th scope="row">
                <a href={href(`/?q=${encodeURIComponent(`${ns.name}/`)}`)} aria-current={active === `${ns.name}/` ? "true" : undefined}>
                  {ns.name}
                </a>
                {ns.role ? <span class="muted"> ({ns.role})</span> : null}
              </th>
              <td class="num">{ns.repositories}</td>
              <td class="num">{formatBytes(ns.size)}</td>
              <td>
                <QuotaUse quota={ns.quota} />
              </td>
              <td>{ns.visibility}</td>
            </tr>
          ))}
        </TableFrame>
      ) : null}
      {shown.length < items.length ? (
        <button type="button" class="small" onClick={() => setAll(true)}>
          Show all {items.length} namespaces
        </button>
      ) : null}
    </section>
  );
}
