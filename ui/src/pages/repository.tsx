import { useState } from "preact/hooks";
import { api, ApiError, encodeName, send } from "../api";
import { ConfirmDialog, ErrorBox, Loading, Pager, Notice } from "../components/common";
import { notableArtifactType, PullCommands, QuotaUse, Size } from "../components/browse-common";
import { useKeyedData } from "../components/browse-data";
import { TagsTable, UntaggedTable } from "../components/browse-tags";
import type { Paged, RepositoryInfo, TagItem, UntaggedItem } from "../components/browse-types";
import { formatAgo, formatTime } from "../format";
import { href, navigate } from "../router";

type Pending = { kind: "tag"; ref: string } | { kind: "manifest"; ref: string };

/**
 * A repository: its facts, pull commands, tags newest first (GET …/tags), untagged manifests on
 * request (`?untagged=true`), and deleting a tag (needs push or delete) or a manifest (needs delete).
 */
export function RepositoryPage({ name, query }: { name: string; query: URLSearchParams }) {
  const q = query.get("q") ?? "";
  const cursor = query.get("cursor") ?? undefined;
  const untagged = query.get("untagged") === "true";
  const base = `/api/v1/browse/repositories/${encodeName(name)}`;
  const info = useKeyedData(() => api<RepositoryInfo>(`${base}/info`), name);
  const tags = useKeyedData(
    () => api<Paged<TagItem>>(`${base}/tags`, { query: { sort: "pushed", order: "desc", q, n: 50, cursor } }),
    `${name}|${q}|${cursor ?? ""}`,
  );
  const orphans = useKeyedData(
    () => (untagged ? api<Paged<UntaggedItem>>(`${base}/tags`, { query: { untagged: "true", n: 100 } }) : Promise.resolve(undefined)),
    `${name}|${untagged}`,
  );
  const [pending, setPending] = useState<Pending | undefined>();
  const [actionError, setActionError] = useState<ApiError | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [chosenTag, setChosenTag] = useState<string | undefined>();

  const go = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) if (v === undefined || v === "") next.delete(k);
    else next.set(k, v);
    const qs = next.toString();
    navigate(`/r/${encodeName(name)}${qs ? `?${qs}` : ""}`);
  };
  const remove = async () => {
    if (!pending) return;
    const target = pending;
    setPending(undefined);
    setActionError(undefined);
    setNotice(undefined);
    try {
      await send(`/v2/${encodeName(name)}/manifests/${encodeURIComponent(target.ref)}`, { method: "DELETE" });
      setNotice(target.kind === "tag" ? `Tag ${target.ref} deleted; its manifest stays until garbage collection or a delete by digest.` : `Manifest ${target.ref} deleted.`);
      info.reload();
      tags.reload();
      orphans.reload();
    } catch (err) {
      setActionError(err instanceof ApiError ? err : new ApiError(0, "UNKNOWN", String(err)));
    }
  };

  const facts = info.data;
  const perms = facts?.permissions;
  const items = tags.data?.items ?? [];
  const pullTag = items.find((t) => t.tag === chosenTag) ?? items.find((t) => t.tag === "latest") ?? items.find((t) => !notableArtifactType(t.artifactType)) ?? items[0];
  const missing = (err: ApiError | undefined) => err?.status === 404 && err.code !== "NAME_UNKNOWN" && err.code !== "MANIFEST_UNKNOWN";

  return (
    <section>
      <p class="crumbs">
        <a href={href("/")}>Repositories</a> /
      </p>
      <h1>{name}</h1>
      {info.error ? (
        missing(info.error) ? (
          <p class="muted">This server does not describe repositories yet (GET …/info is missing).</p>
        ) : (
          <ErrorBox error={info.error} />
        )
      ) : null}
      <div class="overview">
        {facts ? (
          <dl class="facts">
            <dt>Visibility</dt>
            <dd>{facts.visibility}</dd>
            <dt>Size</dt>
            <dd>
              <Size bytes={facts.size} />
            </dd>
            <dt>Tags</dt>
            <dd>
              {facts.tags} ({facts.manifests} manifests)
            </dd>
            <dt>Last push</dt>
            <dd title={formatTime(facts.pushedAt)}>{formatAgo(facts.pushedAt)}</dd>
            <dt>Quota of {facts.namespace || "its namespace"}</dt>
            <dd>
              <QuotaUse quota={facts.quota} />
            </dd>
            {facts.immutableTags.length > 0 ? (
              <>
                <dt>Immutable tags</dt>
                <dd class="mono">{facts.immutableTags.join(", ")}</dd>
              </>
            ) : null}
            <dt>You may</dt>
            <dd>{[perms?.pull ? "pull" : "", perms?.push ? "push" : "", perms?.push || perms?.delete ? "untag" : "", perms?.delete ? "delete manifests" : ""].filter(Boolean).join(", ") || "nothing"}</dd>
          </dl>
        ) : info.loading ? (
          <Loading />
        ) : (
          <div />
        )}

        <div>
          <h2 class="pull-heading">Pull</h2>
          {pullTag ? (
            <>
              {items.length > 1 ? (
                <p class="toolbar">
                  <label for="pull-tag">Tag</label>
                  <select id="pull-tag" value={pullTag.tag} onChange={(e) => setChosenTag(e.currentTarget.value)}>
                    {items.map((t) => (
                      <option value={t.tag}>{t.tag}</option>
                    ))}
                  </select>
                </p>
              ) : null}
              <PullCommands name={name} tag={pullTag.tag} digest={pullTag.digest} />
            </>
          ) : (
            <p class="muted">{tags.loading ? "…" : "No tag to pull yet."}</p>
          )}
        </div>
      </div>

      <h2 id="tags-heading">Tags</h2>
      <form
        class="toolbar"
        role="search"
        aria-label="Tags of this repository"
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: (e.currentTarget.elements.namedItem("q") as HTMLInputElement).value.trim(), cursor: undefined });
        }}
      >
        <label for="tag-filter">Filter tags</label>
        <input id="tag-filter" name="q" type="search" key={q} defaultValue={q} placeholder="part of a tag" />
        <button type="submit">Filter</button>
        {q ? (
          <button type="button" onClick={() => go({ q: undefined, cursor: undefined })}>
            Clear
          </button>
        ) : null}
      </form>
      <Notice text={notice} />
      {actionError ? <ErrorBox error={actionError} /> : null}
      {tags.error ? missing(tags.error) ? <p class="muted">This server does not list tags yet (GET …/tags is missing).</p> : <ErrorBox error={tags.error} /> : null}
      {tags.loading && !tags.data ? <Loading what="Loading tags" /> : null}
      {tags.data && tags.data.total !== undefined && items.length > 0 ? (
        <p class="muted" role="status">
          {tags.data.total} {tags.data.total === 1 ? "tag" : "tags"}
          {q ? ` matching “${q}”` : ""}, newest push first
        </p>
      ) : null}
      {tags.data ? (
        items.length === 0 ? (
          <p>{q ? "No tag matches this filter." : "No tags."}</p>
        ) : (
          <TagsTable name={name} tags={items} onDelete={perms?.push || perms?.delete ? (t) => setPending({ kind: "tag", ref: t.tag }) : undefined} />
        )
      ) : null}
      {tags.data ? <Pager next={tags.data.next} atFirst={!cursor} onNext={(c) => go({ cursor: c })} onFirst={() => go({ cursor: undefined })} /> : null}

      <h2>Untagged manifests</h2>
      {untagged ? (
        <>
          <p>
            <a href={href(`/r/${encodeName(name)}${q ? `?q=${encodeURIComponent(q)}` : ""}`)}>Hide untagged manifests</a>
          </p>
          {orphans.error ? <ErrorBox error={orphans.error} /> : null}
          {orphans.loading && !orphans.data ? <Loading what="Loading untagged manifests" /> : null}
          {orphans.data ? (
            orphans.data.items.length === 0 ? (
              <p>No untagged manifest.</p>
            ) : (
              <>
                <UntaggedTable name={name} items={orphans.data.items} onDelete={perms?.delete ? (m) => setPending({ kind: "manifest", ref: m.digest }) : undefined} />
                {orphans.data.next ? <p class="muted">The first {orphans.data.items.length} untagged manifests; delete some (or run garbage collection) to see the rest.</p> : null}
              </>
            )
          ) : null}
        </>
      ) : (
        <p>
          <a href={href(`/r/${encodeName(name)}?${new URLSearchParams({ ...(q ? { q } : {}), untagged: "true" }).toString()}`)}>Show untagged manifests</a>
          <span class="muted"> (manifests no tag points at: older pushes of a moved tag, deleted tags)</span>
        </p>
      )}

      <ConfirmDialog
        open={pending !== undefined}
        title={pending?.kind === "tag" ? `Delete tag ${pending.ref}?` : "Delete this manifest?"}
        confirmLabel={pending?.kind === "tag" ? "Delete tag" : "Delete manifest"}
        onConfirm={() => void remove()}
        onCancel={() => setPending(undefined)}
      >
        {pending?.kind === "tag" ? (
          <p>
            <code>
              {name}:{pending.ref}
            </code>{" "}
            will no longer resolve. The manifest it points at stays (listed under untagged manifests if no other tag points at it).
          </p>
        ) : (
          <p>
            <code>{pending?.ref}</code> and every tag pointing at it will be removed from {name}. Pulls by this digest will fail.
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}
