import { scanText, type SecretFinding } from "./match.js";
import type { SecretRule, SecretRuleSet } from "./rules.js";

/**
 * Rules for environment variables: those that apply anywhere plus those written for `.env`
 * files, since `ENV TOKEN=…` in a Dockerfile is the same mistake as a `.env` file in the image.
 */
function envRules(rules: readonly SecretRule[]): SecretRule[] {
  return rules.filter((r) => r.kind === "content" && r.appliesTo(".env"));
}

const strings = (value: unknown): string[] | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : undefined;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Scans an image config (the JSON blob a manifest's `config` names): `config.Env`, `config.Cmd`,
 * `config.Entrypoint`, `config.Labels` and each `history[i].created_by` (the Dockerfile commands,
 * `RUN` lines with their arguments), plus the legacy `container_config` copies Docker writes.
 * Findings name the field; a config that is not JSON has none.
 */
export function scanImageConfig(content: Buffer, rules: SecretRuleSet): SecretFinding[] {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString("utf8"));
  } catch {
    return [];
  }
  if (!isObject(doc)) return [];
  const anywhere = rules.rules.filter((r) => r.kind === "content" && !r.pathLimited);
  const env = envRules(rules.rules);
  const findings: SecretFinding[] = [];
  const scan = (list: readonly SecretRule[], field: string, text: string) => {
    for (const f of scanText(list, { field }, text)) {
      if (f.line === 1 && !text.includes("\n")) delete f.line;
      findings.push(f);
    }
  };
  for (const section of ["config", "container_config"]) {
    const c = doc[section];
    if (!isObject(c)) continue;
    strings(c.Env)?.forEach((v, i) => scan(env, `${section}.Env[${i}]`, v));
    for (const key of ["Cmd", "Entrypoint"]) strings(c[key])?.forEach((v, i) => scan(anywhere, `${section}.${key}[${i}]`, v));
    if (isObject(c.Labels)) {
      for (const [k, v] of Object.entries(c.Labels)) if (typeof v === "string") scan(env, `${section}.Labels.${k}`, `${k}=${v}`);
    }
  }
  if (Array.isArray(doc.history)) {
    doc.history.forEach((h, i) => {
      if (isObject(h) && typeof h.created_by === "string") scan(anywhere, `history[${i}].created_by`, h.created_by);
    });
  }
  return findings;
}
