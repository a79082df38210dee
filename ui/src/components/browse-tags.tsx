import { formatAgo, formatTime, shortDigest } from "../format";
import { Badge, TableFrame } from "./common";
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

/** A manifest's size, platforms and push time: the cells the two tables share. */
function ImageCells({ item }: { item: { size: number; platforms: string[]; pushedAt: number | null } }) {
  return (
    <>
      <td class="num">
        <Size bytes={item.size} />
      </td>
      <td>
        <Platforms platforms={item.platforms} />
      </td>
      <td title={formatTime(item.pushedAt)}>{formatAgo(item.pushedAt)}</td>
    </>
  );
}

/** A row's Delete button; `label` names what it deletes for screen readers. */
function DeleteCell({ label, onClick }: { label: string; onClick: () => void }) {
  return (
    <td>
      <button type="button" class="small danger" onClick={onClick} aria-label={label}>
        Delete
      </button>
    </td>
  );
}

/** The tags of a repository, newest push first; `onDelete` set when the caller may untag. */
export function TagsTable({ name, tags, onDelete }: { name: string; tags: TagItem[]; onDelete?: ((tag: TagItem) => void) | undefined }) {
  return (
    <TableFrame label={`Tags of ${name}`} region className="tags browse-table" columns={["Tag", "Digest", { label: "Size", num: true }, "Platforms", "Pushed", "Last pull", { label: "Pulls", num: true }, "Status", onDelete && "Actions"]}>
      {tags.map((t) => (
        <tr key={t.tag}>
          <th scope="row" class="mono">
            <a href={artifactHref(name, t.digest)}>{t.tag}</a>
          </th>
          <td>
            <code title={t.digest}>{shortDigest(t.digest)}</code>
          </td>
          <ImageCells item={t} />
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
          {onDelete ? <DeleteCell label={`Delete tag ${t.tag}`} onClick={() => onDelete(t)} /> : null}
        </tr>
      ))}
    </TableFrame>
  );
}

/** Manifests no tag points at; `onDelete` set when the caller may delete manifests. */
export function UntaggedTable({ name, items, onDelete }: { name: string; items: UntaggedItem[]; onDelete?: ((item: UntaggedItem) => void) | undefined }) {
  return (
    <TableFrame label={`Untagged manifests of ${name}`} region className="untagged browse-table" columns={["Digest", "Kind", { label: "Size", num: true }, "Platforms", "Pushed", onDelete && "Actions"]}>
      {items.map((m) => (
        <tr key={m.digest}>
          <th scope="row">
            <DigestLink name={name} digest={m.digest} />
          </th>
          <td>{kindOf(m.mediaType, m.artifactType)}</td>
          <ImageCells item={m} />
          {onDelete ? <DeleteCell label={`Delete manifest ${m.digest}`} onClick={() => onDelete(m)} /> : null}
        </tr>
      ))}
    </TableFrame>
  );
}
