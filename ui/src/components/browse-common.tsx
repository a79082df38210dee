import { encodeName } from "../api";
import { formatBytes, shortDigest } from "../format";
import { href } from "../router";
import { Badge, CommandLine, TableFrame } from "./common";
import type { TagSupply } from "./browse-types";

/** Pushed text that is a web address becomes a link (http and https only); anything else stays text. */
export function MaybeLink({ text }: { text: string }) {
  let url: URL | undefined;
  try {
    url = /^https?:\/\//i.test(text) ? new URL(text) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) return <>{text}</>;
  return (
    <a href={url.href} rel="noopener noreferrer nofollow" target="_blank">
      {text}
    </a>
  );
}

/** Annotations or labels as a two-column table, by key. */
export function KeyValueTable({ caption, entries }: { caption: string; entries: Record<string, string> | undefined }) {
  const rows = Object.entries(entries ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (rows.length === 0) return <p class="muted">No {caption.toLowerCase()}.</p>;
  return (
    <TableFrame label={caption} region className="kv" columns={["Key", "Value"]}>
      {rows.map(([k, v]) => (
        <tr key={k}>
          <th scope="row" class="mono">
            {k}
          </th>
          <td class="mono">
            <MaybeLink text={v} />
          </td>
        </tr>
      ))}
    </TableFrame>
  );
}

/** The client route of an artifact. */
export const artifactHref = (name: string, digest: string): string => href(`/r/${encodeName(name)}/@${encodeURIComponent(digest)}`);

/** A short digest linking to its artifact page, the full digest in its title. */
export function DigestLink({ name, digest }: { name: string; digest: string }) {
  return (
    <a class="mono" href={artifactHref(name, digest)} title={digest}>
      {shortDigest(digest)}
    </a>
  );
}

export function Size({ bytes }: { bytes: number | null | undefined }) {
  return <span title={bytes === null || bytes === undefined ? undefined : `${bytes} bytes`}>{formatBytes(bytes)}</span>;
}

const isLoopback = (host: string): boolean => /^127\.\d+\.\d+\.\d+$/.test(host) || host === "localhost" || host === "[::1]";

/**
 * Pull commands for this registry as the browser reached it: podman refuses plain HTTP unless told;
 * Docker accepts it only from 127.0.0.0/8 or registries listed as insecure.
 */
export function PullCommands({ name, tag, digest }: { name: string; tag?: string | undefined; digest?: string | undefined }) {
  const host = window.location.host;
  const http = window.location.protocol === "http:";
  const ref = `${host}/${name}`;
  const podman = http ? "podman pull --tls-verify=false" : "podman pull";
  const byTag = tag ? `${ref}:${tag}` : undefined;
  const byDigest = digest ? `${ref}@${digest}` : undefined;
  return (
    <div class="pull-commands">
      {byTag ? (
        <>
          <p class="command-label">Docker</p>
          <CommandLine command={`docker pull ${byTag}`} />
          <p class="command-label">Podman</p>
          <CommandLine command={`${podman} ${byTag}`} />
        </>
      ) : null}
      {byDigest ? (
        <>
          <p class="command-label">By digest</p>
          <CommandLine command={`docker pull ${byDigest}`} />
          <CommandLine command={`${podman} ${byDigest}`} />
        </>
      ) : null}
      {http && !isLoopback(window.location.hostname) ? (
        <p class="muted">
          This registry is served over plain HTTP: Docker pulls from it only once it is listed under <code>insecure-registries</code> in
          /etc/docker/daemon.json (addresses in 127.0.0.0/8 need nothing).
        </p>
      ) : null}
    </div>
  );
}

/** Supply-chain badges of a tag: signature, vulnerabilities, SBOM (only what Berth knows). */
export function SupplyBadges({ supply }: { supply: TagSupply | undefined }) {
  if (!supply) return null;
  const v = supply.vulnerabilities;
  // "unchecked": no signature policy covers the repository, so Berth verified nothing and says nothing.
  const sig = supply.signature === "unchecked" ? undefined : supply.signature;
  return (
    <>
      {sig ? <Badge kind={sig === "verified" ? "good" : sig === "unsigned" ? "neutral" : "warn"}>{sig === "verified" ? "signed" : sig}</Badge> : null}
      {v ? <VulnBadge counts={v} /> : null}
      {supply.sbom ? <Badge kind="neutral">SBOM</Badge> : null}
    </>
  );
}

/** Vulnerability counts by severity, worst first, as one badge. */
export function VulnBadge({ counts }: { counts: Partial<Record<string, number>> }) {
  const order = ["critical", "high", "medium", "low"];
  const parts = order.filter((s) => (counts[s] ?? 0) > 0).map((s) => `${counts[s]} ${s}`);
  if (parts.length === 0) return <Badge kind="good">no known vulnerabilities</Badge>;
  const kind = (counts.critical ?? 0) > 0 || (counts.high ?? 0) > 0 ? "bad" : "warn";
  return (
    <Badge kind={kind} title="Vulnerabilities by severity">
      {parts.join(", ")}
    </Badge>
  );
}

/** "2.1 GiB of 5 GiB (42 %)" with a meter. */
export function QuotaUse({ quota }: { quota: { limit: number; used: number } | undefined }) {
  if (!quota) return <span class="muted">no quota</span>;
  const percent = quota.limit > 0 ? Math.min(100, Math.round((quota.used / quota.limit) * 100)) : 100;
  return (
    <span class="quota">
      <meter min={0} max={quota.limit} value={quota.used} high={quota.limit * 0.9} aria-label="Quota used" /> {formatBytes(quota.used)} of {formatBytes(quota.limit)} ({percent} %)
    </span>
  );
}

const IMAGE_CONFIG_TYPES = new Set(["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"]);

/** The artifact type worth a badge: not an ordinary image's config media type (which the API may report as its artifact type). */
export const notableArtifactType = (artifactType: string | undefined): string | undefined =>
  artifactType && !IMAGE_CONFIG_TYPES.has(artifactType) ? artifactType : undefined;
