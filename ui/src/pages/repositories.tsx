import { api, encodeName } from "../api";
import { ErrorBox, Loading, Pager } from "../components/common";
import { formatAgo, formatBytes, formatTime } from "../format";
import { href, navigate } from "../router";
import { useData } from "../use-data";

interface RepositoryItem {
  name: string;
  namespace: string;
  tags: number;
  manifests: number;
  size: number;
  pushedAt: number | null;
  visibility?: string;
}

interface Page<T> {
  items: T[];
  next?: string;
  total?: number;
}

const SORTS = { name: "Name", pushed: "Last push", size: "Size" } as const;

/** Every repository the caller may pull: search, sort, pages (GET /api/v1/browse/repositories). */
export function RepositoriesPage({ query }: { query: URLSearchParams }) {
  const q = query.get("q") ?? "";
  const sort = (query.get("sort") ?? "name") as keyof typeof SORTS;
  const cursor = query.get("cursor") ?? undefined;
  const order = sort === "name" ? "asc" : "desc";
  const list = useData(
    () => api<Page<RepositoryItem>>("/api/v1/browse/repositories", { query: { q, sort, order, n: 50, cursor } }),
    `${q}|${sort}|${cursor ?? ""}`,
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
          const value = (e.currentTarget.elements.namedItem("q") as HTMLInputElement).value;
          go({ q: value, cursor: undefined });
        }}
      >
        <label for="repo-search">Search</label>
        <input id="repo-search" name="q" type="search" defaultValue={q} placeholder="part of a name" />
        <button type="submit">Search</button>
        <label for="repo-sort">Sort by</label>
        <select id="repo-sort" value={sort} onChange={(e) => go({ sort: e.currentTarget.value, cursor: undefined })}>
          {Object.entries(SORTS).map(([value, label]) => (
            <option value={value}>{label}</option>
          ))}
        </select>
      </form>
      {list.error ? <ErrorBox error={list.error} /> : null}
      {list.loading && !list.data ? <Loading /> : null}
      {list.data ? (
        <>
          {list.data.total !== undefined ? <p class="muted">{list.data.total} repositories</p> : null}
          {list.data.items.length === 0 ? (
            <p>No repository{q ? ` matches “${q}”` : " yet"}.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <caption class="visually-hidden">Repositories</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Tags</th>
                    <th scope="col">Size</th>
                    <th scope="col">Last push</th>
                    <th scope="col">Visibility</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.items.map((r) => (
                    <tr key={r.name}>
                      <td>
                        <a href={href(`/r/${encodeName(r.name)}`)}>{r.name}</a>
                      </td>
                      <td>{r.tags}</td>
                      <td>{formatBytes(r.size)}</td>
                      <td title={formatTime(r.pushedAt)}>{formatAgo(r.pushedAt)}</td>
                      <td>{r.visibility ?? "–"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager next={list.data.next} atFirst={!cursor} onNext={(c) => go({ cursor: c })} onFirst={() => go({ cursor: undefined })} />
        </>
      ) : null}
    </section>
  );
}
