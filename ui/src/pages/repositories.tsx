import { api, encodeName } from "../api";
import { ErrorBox, Loading, Pager, TableFrame } from "../components/common";
import { Size } from "../components/browse-common";
import { NamespacesSection } from "../components/browse-namespaces";
import type { Paged, RepositoryItem } from "../components/browse-types";
import { formatAgo, formatTime } from "../format";
import { href, navigate } from "../router";
import { useKeyedData } from "../components/browse-data";

const SORTS = { name: "Name", pushed: "Last push", size: "Size" } as const;
const DEFAULT_ORDER: Record<keyof typeof SORTS, "asc" | "desc"> = { name: "asc", pushed: "desc", size: "desc" };

/** Every repository the caller may pull: search, sort, pages (GET /api/v1/browse/repositories), and the namespaces. */
export function RepositoriesPage({ query }: { query: URLSearchParams }) {
  const q = query.get("q") ?? "";
  const sortParam = query.get("sort") ?? "name";
  const sort = (sortParam in SORTS ? sortParam : "name") as keyof typeof SORTS;
  const order = query.get("order") === "asc" || query.get("order") === "desc" ? (query.get("order") as "asc" | "desc") : DEFAULT_ORDER[sort];
  const cursor = query.get("cursor") ?? undefined;
  const list = useKeyedData(
    () => api<Paged<RepositoryItem>>("/api/v1/browse/repositories", { query: { q, sort, order, n: 50, cursor } }),
    `${q}|${sort}|${order}|${cursor ?? ""}`,
  );
  const go = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) if (v === undefined || v === "") next.delete(k);
    else next.set(k, v);
    const qs = next.toString();
    navigate(qs ? `/?${qs}` : "/");
  };
  return (
    <section>
      <h1>Repositories</h1>
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          const value = (e.currentTarget.elements.namedItem("q") as HTMLInputElement).value.trim();
          go({ q: value, cursor: undefined });
        }}
      >
        <label for="repo-search">Search</label>
        <input id="repo-search" name="q" type="search" key={q} defaultValue={q} placeholder="part of a name" />
        <button type="submit">Search</button>
        {q ? (
          <button type="button" onClick={() => go({ q: undefined, cursor: undefined })}>
            Clear
          </button>
        ) : null}
        <label for="repo-sort">Sort by</label>
        <select id="repo-sort" value={sort} onChange={(e) => go({ sort: e.currentTarget.value, order: undefined, cursor: undefined })}>
          {Object.entries(SORTS).map(([value, label]) => (
            <option value={value}>{label}</option>
          ))}
        </select>
        <label for="repo-order">Order</label>
        <select id="repo-order" value={order} onChange={(e) => go({ order: e.currentTarget.value, cursor: undefined })}>
          <option value="asc">{sort === "name" ? "A to Z" : sort === "size" ? "Smallest first" : "Oldest first"}</option>
          <option value="desc">{sort === "name" ? "Z to A" : sort === "size" ? "Largest first" : "Newest first"}</option>
        </select>
      </form>
      {list.error ? (
        list.error.status === 404 && list.error.code !== "NAME_UNKNOWN" ? (
          <p class="error" role="alert">
            This server cannot list repositories yet (GET /api/v1/browse/repositories answered 404).
          </p>
        ) : (
          <ErrorBox error={list.error} />
        )
      ) : null}
      {list.loading && !list.data ? <Loading /> : null}
      {list.data ? (
        <>
          <p class="muted" role="status">
            {list.data.total !== undefined ? `${list.data.total} ${list.data.total === 1 ? "repository" : "repositories"}` : `${list.data.items.length} shown`}
            {q ? ` matching “${q}”` : ""}
          </p>
          {list.data.items.length === 0 ? (
            <p>{q ? "No repository matches this search." : "No repository yet: push an image to see it here."}</p>
          ) : (
            <TableFrame label="Repositories" region className="browse-table" busy={list.loading} columns={["Name", { label: "Tags", num: true }, { label: "Size", num: true }, "Last push", "Visibility"]}>
              {list.data.items.map((r) => (
                <tr key={r.name}>
                  <th scope="row">
                    <a href={href(`/r/${encodeName(r.name)}`)}>{r.name}</a>
                  </th>
                  <td class="num">{r.tags}</td>
                  <td class="num">
                    <Size bytes={r.size} />
                  </td>
                  <td title={formatTime(r.pushedAt)}>{formatAgo(r.pushedAt)}</td>
                  <td>{r.visibility ?? "–"}</td>
                </tr>
              ))}
            </TableFrame>
          )}
          <Pager next={list.data.next} atFirst={!cursor} onNext={(c) => go({ cursor: c })} onFirst={() => go({ cursor: undefined })} />
        </>
      ) : null}
      <NamespacesSection active={q} />
    </section>
  );
}
