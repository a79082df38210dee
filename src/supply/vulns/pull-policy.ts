import type { Config } from "../../config/schema.js";
import { globMatch } from "../../oci/glob.js";
import type { Finding } from "./match.js";
import type { PullRefusal } from "../pull-gate.js";
import { atOrAbove } from "./severity.js";

export type VulnerabilityPolicy = Config["vulnerabilities"]["policies"][number];

/** The first policy whose globs match `repo`, if any. */
export function policyFor(policies: readonly VulnerabilityPolicy[], repo: string): VulnerabilityPolicy | undefined {
  return policies.find((p) => p.repositories.some((glob) => globMatch(glob, repo)));
}

/** Whether the policy's allow-list names the finding, by its id or any alias (CVE-…, GHSA-…). */
export function allowed(policy: VulnerabilityPolicy, finding: Finding): boolean {
  return policy.allow.some((id) => id === finding.id || finding.aliases.includes(id));
}

const WORST = 3;

/**
 * Findings grouped as an operator fixes them: one advisory in one source package (the eight binary
 * packages of glibc are one problem, fixed by one rebuild), worst first as given.
 */
export function groupFindings(findings: readonly Finding[]): { finding: Finding; packages: string[] }[] {
  const groups = new Map<string, { finding: Finding; packages: string[] }>();
  for (const f of findings) {
    const key = `${f.id}\0${f.source?.name ?? f.package}`;
    const group = groups.get(key);
    if (group) group.packages.push(f.package);
    else groups.set(key, { finding: f, packages: [f.package] });
  }
  return [...groups.values()];
}

/**
 * The refusal `policy` makes of an image with `findings` (sorted worst first), or undefined when
 * none reaches its `refuseAt` outside the allow-list.
 */
export function refusal(policy: VulnerabilityPolicy, findings: readonly Finding[]): PullRefusal | undefined {
  if (policy.refuseAt === "none") return undefined;
  const refused = groupFindings(findings.filter((f) => atOrAbove(f.severity, policy.refuseAt) && !allowed(policy, f)));
  if (refused.length === 0) return undefined;
  const worst = refused.slice(0, WORST).map(({ finding: f, packages }) => {
    const cve = f.aliases.find((a) => a.startsWith("CVE-") && a !== f.id);
    const what = f.source ? `${f.source.name} ${f.source.version}` : `${f.package} ${f.installed}`;
    const binaries = f.source ? ` (${packages.length === 1 ? packages[0] : `${packages.length} packages`})` : "";
    return `${f.id}${cve ? ` (${cve})` : ""} ${f.severity} in ${what}${binaries}, ${f.fixed ? `fixed in ${f.fixed}` : "no fix yet"}`;
  });
  const more = refused.length > WORST ? `; ${refused.length - WORST} more` : "";
  return {
    policy: policy.name,
    message:
      `${policy.name} (${policy.repositories.join(", ")}) refuses images with findings at or above ${policy.refuseAt}: ` +
      `${refused.length} ${refused.length === 1 ? "vulnerability" : "vulnerabilities"} (${worst.join("; ")}${more}); allow them in the policy or rebuild the image`,
  };
}
