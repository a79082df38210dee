import { keywordIndexOf, type KeywordIndex } from "./keywords.js";
import type { SecretRule } from "./rules.js";

/**
 * One secret found: which rule, and where (a file of a layer, or a field of an image config).
 * Never the secret itself: `hint` is its first four characters and its length at most.
 */
export interface SecretFinding {
  rule: string;
  description: string;
  /** The path in the layer (`root/.aws/credentials`). */
  file?: string;
  /** The image config field (`config.Env[3]`, `history[2].created_by`, `config.Labels.x`). */
  field?: string;
  /** 1-based line in the file or field. */
  line?: number;
  /** The layer's digest, when the finding is reported for an image. */
  layer?: string;
  hint?: string;
}

/** Where the text comes from: a file's path, or a config field. */
export type TextSource = { file: string } | { field: string };

/** Text is scanned in windows this long; each keeps the end of the one before, so a secret across two is still seen. */
export const WINDOW = 256 * 1024;
/** The longest match a secret may need (a PEM header with its encryption lines and a first row of key). */
export const OVERLAP = 4096;
/** More findings than this in one file are not listed (one is enough to refuse it). */
const MAX_PER_FILE = 20;

/** Shannon entropy of `s` in bits per character. */
export function entropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

export function hintOf(secret: string): string {
  return `${secret.slice(0, 4)}… (${secret.length} chars)`;
}

function countLines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** Whether the match of `rule` is a secret (not a placeholder, random enough); returns the secret when it is. */
export function secretOf(rule: SecretRule, m: RegExpExecArray): string | undefined {
  const secret = m.groups?.secret ?? m[1] ?? m[0];
  if (secret.length === 0) return undefined;
  if (rule.entropy !== undefined && entropy(secret) < rule.entropy) return undefined;
  if (rule.allow.some((a) => a.test(secret))) return undefined;
  return secret;
}

/**
 * Scans a text fed piece by piece (a file as it streams out of a layer) with the content rules
 * that apply to it; memory stays at about one window whatever the file's size. Text is bytes read
 * as latin1: every pattern is ASCII, and a byte never spans two pieces.
 */
export interface TextScan {
  feed(text: string): void;
  /** Scans what is left and resolves the findings, in order of appearance. */
  end(): SecretFinding[];
}

/** `keywords` may cover more rules than `rules` (one index for a whole layer saves building one per file). */
export function createTextScan(rules: readonly SecretRule[], source: TextSource, keywords: KeywordIndex = keywordIndexOf(rules)): TextScan {
  let buf = "";
  let fresh = 0;
  let linesBefore = 0;
  let charsBefore = 0;
  const found: SecretFinding[] = [];
  const seen = new Set<string>();
  const waiting = rules.filter((r) => r.requires);
  const requiresMet = new Set<SecretRule>();
  // Findings of rules with `requires`, kept until the file shows whether it is met; they do not claim
  // their secret meanwhile, so in a file that is not (say) a kubeconfig a generic rule still reports it.
  const held = new Map<SecretRule, { at: number; finding: SecretFinding }[]>();
  const foundAt = new Map<SecretFinding, number>();

  function scan(text: string, freshFrom: number): void {
    const present = keywords.present(text);
    for (const rule of waiting) if (!requiresMet.has(rule) && rule.requires!.test(text)) requiresMet.add(rule);
    for (const rule of rules) {
      if (rule.keywords.length > 0 && !rule.keywords.some((k) => present.has(k))) continue;
      const re = rule.pattern;
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        if (m[0].length === 0) re.lastIndex++;
        if (m.index + m[0].length <= freshFrom) continue;
        const secret = secretOf(rule, m);
        if (secret === undefined) continue;
        // One secret is reported once: by the first rule that sees it (specific rules come before generic ones).
        const at = charsBefore + m.index + Math.max(0, m[0].indexOf(secret));
        const line = linesBefore + countLines(text, m.index) + 1;
        const key = `${rule.id}\0${line}`;
        if (seen.has(key) || seen.has(`@${at}`)) continue;
        seen.add(key);
        const finding: SecretFinding = { rule: rule.id, description: rule.description, ...source, line, hint: hintOf(secret) };
        if (rule.requires) {
          held.set(rule, [...(held.get(rule) ?? []), { at, finding }]);
          continue;
        }
        seen.add(`@${at}`);
        if (found.length < MAX_PER_FILE) {
          found.push(finding);
          foundAt.set(finding, at);
        }
      }
    }
  }

  return {
    feed(text) {
      buf += text;
      if (buf.length < WINDOW) return;
      scan(buf, fresh);
      const keep = buf.slice(-OVERLAP);
      linesBefore += countLines(buf, buf.length - keep.length);
      charsBefore += buf.length - keep.length;
      buf = keep;
      fresh = keep.length;
    },
    end() {
      if (buf.length > fresh || (fresh === 0 && buf.length > 0)) scan(buf, fresh);
      buf = "";
      const kept = [...held].filter(([rule]) => requiresMet.has(rule)).flatMap(([, findings]) => findings);
      // The specific rule whose condition is met reports its secret instead of a generic one at the same place.
      const claimed = new Set(kept.map((k) => k.at));
      const result = [...found.filter((f) => !claimed.has(foundAt.get(f)!)), ...kept.map((k) => k.finding)];
      return result.slice(0, MAX_PER_FILE).sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    },
  };
}

/** Scans one whole text (a config field) at once. */
export function scanText(rules: readonly SecretRule[], source: TextSource, text: string): SecretFinding[] {
  const scan = createTextScan(rules, source);
  scan.feed(text);
  return scan.end();
}
