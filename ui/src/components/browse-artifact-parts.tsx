import { Fragment } from "preact";
import { formatBytes, shortDigest } from "../format";
import { Badge, TableFrame } from "./common";
import { DigestLink, MaybeLink, Size } from "./browse-common";
import type { ConfigView, DescriptorView, HistoryEntry, Verification } from "./browse-types";

/** Manifest or config bytes: indented when they are JSON, otherwise the raw text. */
export function JsonText({ text, label }: { text: string; label: string }) {
  let shown = text;
  let json = true;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    json = false;
  }
  return (
    <>
      {json ? null : <p class="muted">Not JSON: the raw text follows.</p>}
      <pre class="json" tabIndex={0} role="region" aria-label={label}>
        {shown}
      </pre>
    </>
  );
}

/** Layers (or an artifact's blobs) in order, with sizes and media types. */
export function LayersTable({ layers, caption }: { layers: DescriptorView[]; caption: string }) {
  if (layers.length === 0) return <p class="muted">No layers.</p>;
  return (
    <TableFrame label={caption} region className="layers browse-table" columns={[{ label: "#", num: true }, "Digest", { label: "Size", num: true }, "Media type"]}>
      {layers.map((l, i) => (
        <tr key={`${i}-${l.digest}`}>
          <th scope="row" class="num">
            {i + 1}
          </th>
          <td>
            <code title={l.digest}>{shortDigest(l.digest)}</code>
            {l.annotations?.["org.opencontainers.image.title"] ? <span class="muted"> {l.annotations["org.opencontainers.image.title"]}</span> : null}
          </td>
          <td class="num">
            <Size bytes={l.size} />
          </td>
          <td class="mono">{l.mediaType}</td>
        </tr>
      ))}
    </TableFrame>
  );
}

/** An index's children: one row per platform, each linking to its manifest. */
export function PlatformsTable({ name, manifests }: { name: string; manifests: DescriptorView[] }) {
  return (
    <TableFrame label="Platforms" region className="platforms browse-table" columns={["Platform", "Manifest", { label: "Size", num: true }, "Media type"]}>
      {manifests.map((m) => (
        <tr key={m.digest}>
          <th scope="row">{m.platform ?? m.artifactType ?? "unknown"}</th>
          <td>
            <DigestLink name={name} digest={m.digest} />
          </td>
          <td class="num">
            <Size bytes={m.size} />
          </td>
          <td class="mono">{m.mediaType}</td>
        </tr>
      ))}
    </TableFrame>
  );
}

const list = (v: string[] | undefined) => (v && v.length > 0 ? JSON.stringify(v) : undefined);

/** The image config's facts: platform, created, author, entrypoint, command, environment. */
export function ConfigFacts({ config }: { config: ConfigView }) {
  const rows: [string, string | undefined][] = [
    ["Platform", config.platform],
    ["Created", config.created],
    ["Author", config.author],
    ["Entrypoint", list(config.entrypoint)],
    ["Command", list(config.cmd)],
  ];
  return (
    <>
      <dl class="facts">
        {rows
          .filter((r): r is [string, string] => r[1] !== undefined && r[1] !== "")
          .map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd class={k === "Entrypoint" || k === "Command" ? "mono" : undefined}>
                <MaybeLink text={v} />
              </dd>
            </Fragment>
          ))}
        <dt>Config blob</dt>
        <dd>
          <code title={config.digest}>{shortDigest(config.digest)}</code> ({formatBytes(config.size)}, <span class="mono">{config.mediaType}</span>)
        </dd>
      </dl>
      {config.env && config.env.length > 0 ? (
        <>
          <h3>Environment</h3>
          <ul class="env mono">
            {config.env.map((e, i) => (
              <li key={i}>{e}</li>
            ))}
          </ul>
        </>
      ) : null}
    </>
  );
}

/** The image's history, oldest step first. */
export function HistoryTable({ history }: { history: HistoryEntry[] }) {
  if (history.length === 0) return <p class="muted">No history recorded.</p>;
  return (
    <TableFrame label="Image history" region className="history browse-table" columns={[{ label: "Step", num: true }, "Created", "Created by", "Comment"]}>
      {history.map((h, i) => (
        <tr key={i}>
          <th scope="row" class="num">
            {i + 1}
          </th>
          <td>{h.created ?? "–"}</td>
          <td class="mono">
            {h.createdBy ?? "–"}
            {h.emptyLayer ? <Badge kind="neutral">no layer</Badge> : null}
          </td>
          <td>{h.comment ?? ""}</td>
        </tr>
      ))}
    </TableFrame>
  );
}

function VerificationBadge({ v }: { v: Verification | undefined }) {
  if (!v) return <span class="muted">not checked</span>;
  return v.valid ? (
    <Badge kind="good" title={`${v.format}${v.signer ? `, signed by ${v.signer}` : ""}`}>
      verified{v.signer ? `: ${v.signer}` : ""}
    </Badge>
  ) : (
    <Badge kind="bad" title={v.reason}>
      not verified{v.reason ? `: ${v.reason}` : ""}
    </Badge>
  );
}

const referrerKind = (r: DescriptorView): string => {
  const t = r.artifactType ?? r.mediaType;
  if (/cosign|sigstore|notary|signature/i.test(t)) return "signature";
  if (/cyclonedx|spdx|sbom/i.test(t)) return "SBOM";
  return "artifact";
};

/** Artifacts whose subject is this manifest: signatures, SBOMs, attestations… */
export function ReferrersTable({ name, referrers }: { name: string; referrers: (DescriptorView & { verification?: Verification })[] }) {
  if (referrers.length === 0) return <p class="muted">Nothing refers to this manifest.</p>;
  return (
    <TableFrame label="Referrers" region className="referrers browse-table" columns={["Kind", "Artifact type", "Manifest", { label: "Size", num: true }, "Verification"]}>
      {referrers.map((r) => (
        <tr key={r.digest}>
          <th scope="row">{referrerKind(r)}</th>
          <td class="mono">{r.artifactType ?? r.mediaType}</td>
          <td>
            <DigestLink name={name} digest={r.digest} />
          </td>
          <td class="num">
            <Size bytes={r.size} />
          </td>
          <td>{referrerKind(r) === "signature" || r.verification ? <VerificationBadge v={r.verification} /> : <span class="muted">–</span>}</td>
        </tr>
      ))}
    </TableFrame>
  );
}
