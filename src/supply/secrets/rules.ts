import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { lazyRequire } from "../../lazy-require.js";
import { z } from "zod";
import { ConfigError } from "../../config/load.js";
import { BUILTIN_RULES, PLACEHOLDERS } from "./builtin-rules.js";
import type { RuleSpec } from "./rule-spec.js";

/** Only a config or rules file needs it: not loaded by a server configured from the environment. */
const yaml = lazyRequire<typeof import("yaml")>("yaml");

export type { RuleSpec } from "./rule-spec.js";

/** A rule ready to run. */
export interface SecretRule {
  readonly id: string;
  readonly description: string;
  readonly kind: "content" | "path";
  /** Global, so `matchAll`/`exec` walk every match. */
  readonly pattern: RegExp;
  readonly keywords: readonly string[];
  readonly entropy?: number;
  readonly allow: readonly RegExp[];
  readonly requires?: RegExp;
  /** Whether the rule applies to `path`. */
  appliesTo(path: string): boolean;
  readonly pathLimited: boolean;
}

/** The effective rule set and its fingerprint (a hash of every effective rule, part of each cache key). */
export interface SecretRuleSet {
  readonly rules: readonly SecretRule[];
  readonly fingerprint: string;
}

/** Bumped when the scanner finds differently with the same rules (cached results are then redone). */
const SCANNER_VERSION = 1;

const ruleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "1 to 64 of a-z 0-9 . _ - (starting with a letter or digit)"),
    description: z.string().min(1).optional(),
    kind: z.enum(["content", "path"]).optional(),
    pattern: z.string().min(1).optional(),
    flags: z.string().regex(/^[imsu]*$/, "only the flags i, m, s, u").optional(),
    paths: z.array(z.string().min(1)).min(1).optional(),
    keywords: z.array(z.string().min(1)).optional(),
    entropy: z.number().min(0).max(8).optional(),
    allow: z.array(z.string().min(1)).optional(),
    requires: z.string().min(1).optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

const fileSchema = z.object({ rules: z.array(z.unknown()) }).strict();

/** A path glob as a RegExp: `**\/` is any number of directories, `*` and `?` stay within one name. */
export function pathGlob(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (glob.startsWith("**/", i)) {
      re += "(?:.*/)?";
      i += 2;
    } else if (glob.startsWith("**", i)) {
      re += ".*";
      i += 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

function regex(source: string, flags: string, what: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new Error(`${what} is not a valid regular expression: ${(err as Error).message}`);
  }
}

/** Compiles one complete spec; throws an Error naming the field at fault. */
export function compileRule(spec: RuleSpec): SecretRule {
  const flags = [...new Set(`${spec.flags ?? ""}g`)].join("");
  const pattern = regex(spec.pattern, flags, "pattern");
  if (pattern.test("")) throw new Error("pattern matches the empty string (it would fire on every file)");
  const globs = spec.paths?.map(pathGlob);
  const allow = [...PLACEHOLDERS, ...(spec.allow ?? [])].map((a, i) => regex(a, "i", `allow[${i}]`));
  const requires = spec.requires === undefined ? undefined : regex(spec.requires, "m", "requires");
  return {
    id: spec.id,
    description: spec.description,
    kind: spec.kind,
    pattern,
    keywords: (spec.keywords ?? []).map((k) => k.toLowerCase()),
    ...(spec.entropy !== undefined ? { entropy: spec.entropy } : {}),
    allow,
    ...(requires ? { requires } : {}),
    pathLimited: globs !== undefined,
    appliesTo: (path) => globs === undefined || globs.some((g) => g.test(path)),
  };
}

/**
 * The rules of an operator's file over the built-ins: a rule with a new id is added, one with a
 * built-in's id replaces it (fields left out are kept from the built-in), `enabled: false` turns
 * it off. Throws a ConfigError naming the file, the rule and the problem.
 */
export function mergeRules(builtins: readonly RuleSpec[], extra: readonly unknown[], file: string): RuleSpec[] {
  const byId = new Map(builtins.map((r) => [r.id, { ...r }] as const));
  const seen = new Set<string>();
  extra.forEach((raw, i) => {
    const where = (id?: string) => `secret rules file ${file}: rules[${i}]${id ? ` (${id})` : ""}`;
    const parsed = ruleSchema.safeParse(raw);
    if (!parsed.success) {
      const id = typeof (raw as { id?: unknown })?.id === "string" ? (raw as { id: string }).id : undefined;
      const problems = parsed.error.issues.map((p) => `${p.path.join(".") || "(rule)"}: ${p.message}`).join("; ");
      throw new ConfigError(`${where(id)}: ${problems}`);
    }
    const { enabled, ...fields } = parsed.data;
    if (seen.has(fields.id)) throw new ConfigError(`${where(fields.id)}: the id is used twice in the file`);
    seen.add(fields.id);
    const base = byId.get(fields.id);
    if (enabled === false) {
      if (!base) throw new ConfigError(`${where(fields.id)}: enabled: false names no built-in rule`);
      byId.delete(fields.id);
      return;
    }
    const spec = { ...base, ...stripUndefined(fields) } as Partial<RuleSpec>;
    for (const required of ["description", "kind", "pattern"] as const) {
      if (spec[required] === undefined) throw new ConfigError(`${where(fields.id)}: ${required} is required for a new rule`);
    }
    try {
      compileRule(spec as RuleSpec);
    } catch (err) {
      throw new ConfigError(`${where(fields.id)}: ${(err as Error).message}`);
    }
    byId.set(fields.id, spec as RuleSpec);
  });
  return [...byId.values()];
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Reads and checks an operator's rules file (YAML `rules: [...]`); throws a ConfigError naming it. */
export function readRulesFile(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`secret rules file ${file}: cannot be read: ${(err as Error).message}`);
  }
  let tree: unknown;
  try {
    tree = yaml().parse(text);
  } catch (err) {
    throw new ConfigError(`secret rules file ${file}: not valid YAML: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(tree ?? {});
  if (!parsed.success) throw new ConfigError(`secret rules file ${file}: must be a map with a list of rules under "rules"`);
  return parsed.data.rules;
}

/** The effective rules: the built-ins, extended or overridden by `rulesFile` when given. */
export function loadSecretRules(rulesFile?: string, builtins: readonly RuleSpec[] = BUILTIN_RULES): SecretRuleSet {
  const specs = rulesFile === undefined ? [...builtins] : mergeRules(builtins, readRulesFile(rulesFile), rulesFile);
  return ruleSetOf(specs);
}

export function ruleSetOf(specs: readonly RuleSpec[]): SecretRuleSet {
  const sorted = [...specs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const canonical = JSON.stringify(sorted.map((s) => [s.id, s.kind, s.pattern, s.flags ?? "", s.paths ?? [], s.keywords ?? [], s.entropy ?? null, s.allow ?? [], s.requires ?? null]));
  // The placeholders and the scanner's own version change what every rule finds, so they count too.
  const fingerprint = createHash("sha256").update(`scanner ${SCANNER_VERSION}\n`).update(canonical).update(JSON.stringify(PLACEHOLDERS)).digest("hex").slice(0, 16);
  return { rules: specs.map(compileRule), fingerprint };
}
