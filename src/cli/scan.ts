import type { Config } from "../config/schema.js";
import type { Digest } from "../oci/digest.js";
import { RegistryError } from "../oci/errors.js";
import { parseName, parseReference } from "../oci/reference.js";
import { openBerthServices } from "../compose.js";
import { createSupplyChain, type ImageSupplyReport, type SupplyReport } from "../supply/supply-chain.js";
import { groupFindings } from "../supply/vulns/pull-policy.js";
import { berthVersion } from "../version.js";
import { cliLogger } from "./cli-logger.js";
import { UsageError } from "./usage-error.js";

/** `team/app:1.0`, `team/app@sha256:…`, or `team/app` (its `latest` tag), checked as the API checks them. */
export function parseImageReference(value: string): { name: string; reference: string } {
  const at = value.indexOf("@");
  const colon = value.lastIndexOf(":");
  const split = at >= 0 ? at : colon > value.lastIndexOf("/") ? colon : -1;
  const name = split >= 0 ? value.slice(0, split) : value;
  const reference = split >= 0 ? value.slice(split + 1) : "latest";
  try {
    parseName(name);
    parseReference(reference);
  } catch (err) {
    throw new UsageError(`not an image reference: ${value} (${(err as Error).message}); give NAME:TAG or NAME@DIGEST, e.g. team/app:1.0`);
  }
  return { name, reference };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function imageLines(image: ImageSupplyReport, indent: string): string[] {
  const { sbom, vulnerabilities: v } = image;
  const lines: string[] = [];
  const ecosystems = Object.entries(sbom.ecosystems ?? {}).map(([e, n]) => `${e} ${n}`).join(", ");
  lines.push(`${indent}sbom             ${sbom.status}${sbom.packages !== undefined ? `: ${plural(sbom.packages, "package")}${ecosystems ? ` (${ecosystems})` : ""}` : ""}${sbom.referrer ? `, referrer ${sbom.referrer}` : ""}${sbom.error ? ` (${sbom.error})` : ""}`);
  if (v.status === "no-sbom") lines.push(`${indent}vulnerabilities  not matched: no SBOM yet`);
  else if (v.status === "no-database") lines.push(`${indent}vulnerabilities  not matched: no database imported (berth vulndb import)`);
  else {
    const counts = Object.entries(v.counts).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(", ");
    lines.push(`${indent}vulnerabilities  ${v.findings.length}${counts ? ` (${counts})` : ""}, database generation ${v.database.generation}${v.database.importedAt ? ` imported ${v.database.importedAt}` : ""}`);
    for (const { finding: f, packages } of groupFindings(v.findings)) {
      const alias = f.aliases.find((a) => a !== f.id);
      const what = f.source ? `${f.source.name} ${f.source.version}` : `${f.package} ${f.installed}`;
      const binaries = f.source ? `  (${packages.length > 3 ? `${packages.slice(0, 3).join(", ")}, +${packages.length - 3}` : packages.join(", ")})` : "";
      lines.push(`${indent}  ${f.severity.toUpperCase().padEnd(8)} ${f.id}${alias ? ` (${alias})` : ""}  ${what}${f.fixed ? ` → ${f.fixed}` : " (no fix)"}${binaries}`);
    }
  }
  return lines;
}

/** The report as an operator reads it: one section per check, findings one per line. */
export function renderSupplyReport(r: SupplyReport): string {
  const lines = [`${r.repository}@${r.digest} (${r.mediaType})`];
  const s = r.signatures;
  const checks = s.checks.map((c) => `${c.format} ${c.valid ? `valid${c.signer ? ` (${c.signer})` : ""}` : `refused: ${c.reason ?? "invalid"}`}`);
  lines.push(`signatures       ${s.state}${s.policy ? ` (policy ${s.policy}, ${s.mode})` : " (no signature policy)"}${s.verifiedBy ? `, through index ${s.verifiedBy}` : ""}`);
  for (const c of checks) lines.push(`  ${c}`);
  const secrets = r.secrets;
  lines.push(`secrets          ${secrets.status}${"policy" in secrets && secrets.policy ? ` (policy ${secrets.policy.name}, ${secrets.policy.mode})` : "reason" in secrets ? ` (${secrets.reason})` : ""}`);
  for (const f of secrets.findings) lines.push(`  ${f.rule}: ${"file" in f && f.file ? `file ${f.file}` : `field ${String((f as { field?: string }).field)}`}${f.layer ? ` in layer ${f.layer}` : ""}`);
  if (r.image) lines.push(...imageLines(r.image, ""));
  for (const p of r.platforms ?? []) {
    lines.push(`platform ${p.platform} ${p.digest}`);
    lines.push(...imageLines(p, "  "));
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `berth scan NAME:TAG|NAME@DIGEST [--json]`: the supply-chain report of a stored image, from the
 * stores `config` names (it works while servers run). A missing SBOM is generated first (the layers
 * are read once); vulnerabilities are matched against the imported database; signatures verified
 * with the configured policies' keys; secrets as the scans recorded them. Exit 0, or 1 when the
 * image is not there.
 */
export async function scanCommand(config: Config, image: string, json: boolean): Promise<number> {
  const { name, reference } = parseImageReference(image);
  const services = await openBerthServices(config, { logger: cliLogger });
  try {
    const supply = await createSupplyChain({
      registry: services.registry,
      config,
      logger: cliLogger,
      ...(services.secrets ? { secrets: services.secrets } : {}),
      background: false,
      tool: { name: "berth", version: berthVersion() },
    });
    try {
      let digest: Digest;
      try {
        digest = (await services.registry.manifests.get(name, parseReference(reference))).digest;
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
        process.stderr.write(`berth scan: ${name}${reference.includes(":") ? "@" : ":"}${reference} is not in the registry\n`);
        return 1;
      }
      const report = await supply.report(name, digest, { generate: true });
      await services.secrets?.settled();
      const final = services.secrets ? { ...report, secrets: await services.secrets.report(name, digest) } : report;
      process.stdout.write(json ? `${JSON.stringify(final, null, 2)}\n` : renderSupplyReport(final));
      return 0;
    } finally {
      await supply.close();
    }
  } finally {
    await services.close();
  }
}
