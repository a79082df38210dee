import { formatAgo, formatTime, shortDigest } from "../format";
import { Badge } from "./common";
import { artifactHref, DigestLink, notableArtifactType, Size, SupplyBadges } from "./browse-common";
import type { TagItem, UntaggedItem } from "./browse-types";

const kindOf = (mediaType: string, artifactType: string | undefined): string =>
  notableArtifactType(artifactType) ?? (/index|manifest\.list/.test(mediaType) ? "index" : /manifest/.test(mediaType) ? "image" : mediaType);

function Platforms({ platforms }: { platforms: string[] }) {
  if (platforms.length === 0) return <span class="muted">–</span>;
  return (
    <ul class="inline-list">
      {platforms.map((p) => (
        <li key={p}>{p}</li>
      ))}
    </ul>
  );
}

/** The tags of a repository, newest push first; `onDelete` set when the caller may untag. */
export function TagsTable({ name, tags, onDelete }: { name: string; tags: TagItem[]; onDelete?: ((tag: TagItem) => void) | undefined }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={`Tags of ${name}`}>
      <table class="tags browse-table">
        <caption class="visually-hidden">Tags of {name}</caption>
        <thead>
          <tr>
            <th scope="col">Tag</th>
            <th scope="col">Digest</th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col">Platforms</th>
            <th scope="col">Pushed</th>
            <th scope="col">Last pull</th>
            <th scope="col" class="num">
              Pulls
            </th>
            <th scope="col">Status</th>
            {onDelete ? <th scope="col">Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {tags.map((t) => (
            <tr key={t.tag}>
              <th scope="row" class="mono">
                <a href={artifactHref(name, t.digest)}>{t.tag}</a>
              </th>
              <td>
                <code title={t.digest}>{shortDigest(t.digest)}</code>
              </td>
              <td class="num">
                <Size bytes={t.size} />
              </td>
              <td>
                <Platforms platforms={t.platforms} />
              </td>
              <td title={formatTime(t.pushedAt)}>{formatAgo(t.pushedAt)}</td>
              <td title={formatTime(t.pulledAt)}>{formatAgo(t.pulledAt)}</td>
              <td class="num">{t.pulls}</td>
              <td>
                {t.immutable ? (
                  <Badge kind="neutral" title="An immutable tag can be neither moved nor deleted">
                    immutable
                  </Badge>
                ) : null}
                {notableArtifactType(t.artifactType) ? <Badge kind="neutral">{t.artifactType}</Badge> : null}
                <SupplyBadges supply={t.supply} />
              </td>
              {onDelete ? (
                <td>
                  <button type="button" class="small danger" onClick={() => onDelete(t)} aria-label={`Delete tag ${t.tag}`}>
                    Delete
                  </button>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Manifests no tag points at; `onDelete` set when the caller may delete manifests. */
export function UntaggedTable({ name, items, onDelete }: { name: string; items: UntaggedItem[]; onDelete?: ((item: UntaggedItem) => void) | undefined }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={`Untagged manifests of ${name}`}>
      <table class="untagged browse-table">
        <caption class="visually-hidden">Untagged manifests of {name}</caption>
        <thead>
          <tr>
            <th scope="col">Digest</th>
            <th scope="col">Kind</th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col">Platforms</th>
            <th scope="col">Pushed</th>
            {onDelete ? <th scope="col">Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {items.map((m) => (
            <tr key={m.digest}>
              <th scope="row">
                <DigestLink name={name} digest={m.digest} />
              </th>
              <td>{kindOf(m.mediaType, m.artifactType)}</td>
              <td class="num">
                <Size bytes={m.size} />
              </td>
              <td>
                <Platforms platforms={m.platforms} />
              </td>
              <td title={formatTime(m.pushedAt)}>{formatAgo(m.pushedAt)}</td>
              {onDelete ? (
                <td>
                  <button type="button" class="small danger" onClick={() => onDelete(m)} aria-label={`Delete manifest ${m.digest}`}>
                    Delete
                  </button>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
