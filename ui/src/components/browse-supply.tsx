import { Badge, TableFrame } from "./common";
import { MaybeLink, VulnBadge } from "./browse-common";
import type { ImageSupply, SupplyReport } from "./browse-types";

const MAX_FINDINGS = 200;

function sbomLine(sbom: ImageSupply["sbom"]): string {
  if (sbom.status === "ready") {
    const eco = Object.entries(sbom.ecosystems ?? {})
      .map(([e, n]) => `${n} ${e}`)
      .join(", ");
    return `${sbom.packages ?? 0} packages${eco ? ` (${eco})` : ""}${sbom.os ? ` on ${sbom.os}` : ""}`;
  }
  if (sbom.status === "failed") return `generation failed${sbom.error ? `: ${sbom.error}` : ""}`;
  return sbom.status === "pending" ? "being generated" : "none";
}

function vulnLine(v: ImageSupply["vulnerabilities"]) {
  if (v.status === "no-database") return <span class="muted">not scanned: no vulnerability database imported</span>;
  if (v.status === "no-sbom") return <span class="muted">not scanned: no SBOM yet</span>;
  return <VulnBadge counts={v.counts} />;
}

function Findings({ supply }: { supply: ImageSupply }) {
  const findings = supply.vulnerabilities.findings ?? [];
  if (findings.length === 0) return null;
  return (
    <>
      <TableFrame label="Vulnerabilities" region className="findings browse-table" columns={["Vulnerability", "Severity", "Package", "Installed", "Fixed in", "Summary"]}>
        {findings.slice(0, MAX_FINDINGS).map((f) => (
          <tr key={`${f.id}|${f.package}|${f.installed}`}>
            <th scope="row" class="mono">
              {f.id}
              {f.aliases && f.aliases.length > 0 ? <span class="muted"> {f.aliases.slice(0, 2).join(", ")}</span> : null}
            </th>
            <td>
              <Badge kind={f.severity === "critical" || f.severity === "high" ? "bad" : f.severity === "medium" ? "warn" : "neutral"}>{f.severity}</Badge>
              {f.score !== undefined ? ` ${f.score}` : ""}
            </td>
            <td class="mono">{f.package}</td>
            <td class="mono">{f.installed}</td>
            <td class="mono">{f.fixed ?? "no fix known"}</td>
            <td>
              <MaybeLink text={f.summary ?? ""} />
            </td>
          </tr>
        ))}
      </TableFrame>
      {findings.length > MAX_FINDINGS ? <p class="muted">The first {MAX_FINDINGS} of {findings.length} findings, worst first.</p> : null}
    </>
  );
}

/** Signature state, SBOM and vulnerabilities from the supply-chain report (an index: per platform). */
export function SupplySection({ supply }: { supply: SupplyReport }) {
  const sig = supply.signatures;
  const images: { label?: string; report: ImageSupply }[] = supply.image ? [{ report: supply.image }] : (supply.platforms ?? []).map((p) => ({ label: p.platform, report: p }));
  return (
    <>
      <dl class="facts">
        <dt>Signature</dt>
        <dd>
          {sig && sig.policy === null ? (
            <span class="muted">not checked: no signature policy covers this repository</span>
          ) : sig ? (
            <>
              <Badge kind={sig.state === "verified" ? "good" : sig.state === "unsigned" ? "neutral" : "warn"}>{sig.state}</Badge>
              <span class="muted">
                {" "}
                policy {sig.policy}
                {sig.mode ? ` (${sig.mode})` : ""}
              </span>
            </>
          ) : (
            <span class="muted">unknown</span>
          )}
        </dd>
        {supply.secrets && supply.secrets.status !== "not-scanned" ? (
          <>
            <dt>Secrets</dt>
            <dd>{supply.secrets.status === "found" ? <Badge kind="bad">{supply.secrets.findings.length} found</Badge> : supply.secrets.status}</dd>
          </>
        ) : null}
      </dl>
      {images.map(({ label, report }) => (
        <div key={label ?? "image"}>
          {label ? <h3>{label}</h3> : null}
          <dl class="facts">
            <dt>SBOM</dt>
            <dd>{sbomLine(report.sbom)}</dd>
            <dt>Vulnerabilities</dt>
            <dd>{vulnLine(report.vulnerabilities)}</dd>
          </dl>
          <Findings supply={report} />
        </div>
      ))}
    </>
  );
}
