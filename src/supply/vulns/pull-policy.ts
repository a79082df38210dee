import type { Config } from "../../config/schema.js";
import { globMatch } from "../../oci/glob.js";
import type { Finding } from "./match.js";
import { atOrAbove } from "./severity.js";

export type VulnerabilityPolicy = Config["vulnerabilities"]["policies"][number];

/** A pull the vulnerability policy refuses: which policy, and a message a client shows as is. */
export interface PullRefusal {
  policy: string;
  message: string;
}

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
 * The refusal `policy` makes of an image with `findings` (sorted worst first), or undefined when
 * none reaches its `refuseAt` outside the allow-list.
 */
export function refusal(policy: VulnerabilityPolicy, findings: readonly Finding[]): PullRefusal | undefined {
  if (policy.refuseAt === "none") return undefined;
  const refused = findings.filter((f) => atOrAbove(f.severity, policy.refuseAt) && !allowed(policy, f));
  if (refused.length === 0) return undefined;
  const worst = refused.slice(0, WORST).map((f) => {
    const compared = f.source ? ` (source ${f.source.name} ${f.source.version})` : "";
    return `${f.id} ${f.severity} in ${f.package} ${f.installed}${compared}, ${f.fixed ? `fixed in ${f.fixed}` : "no fix yet"}`;
  });
  const more = refused.length > WORST ? "; …" : "";
  return {
    policy: policy.name,
    message:
      `${policy.name} (${policy.repositories.join(", ")}) refuses images with findings at or above ${policy.refuseAt}: ` +
      `${refused.length} found (${worst.join("; ")}${more}); allow them in the policy or rebuild the image`,
  };
}
