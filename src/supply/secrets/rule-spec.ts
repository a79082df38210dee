/**
 * One secret rule, as written in the built-in table or an operator's rules file
 * (docs/secret-rules.md). A `content` rule's pattern runs over the text of files (and of image
 * config fields); a `path` rule's over the path of each file in a layer.
 */
export interface RuleSpec {
  /** Stable name, shown in findings and refusals; an operator rule with a built-in's id replaces it. */
  id: string;
  description: string;
  kind: "content" | "path";
  /** A JavaScript RegExp source; the secret is group `secret`, else group 1, else the whole match. */
  pattern: string;
  /** RegExp flags among `i`, `m`, `s`, `u` (`g` is added by the scanner). */
  flags?: string;
  /** Globs (`**` any directories, `*` within a name) the rule is limited to; absent: every file. */
  paths?: string[];
  /** Cheap pre-filter: the pattern runs only on text containing one of these (case-insensitive). */
  keywords?: string[];
  /** Minimum Shannon entropy (bits per character) of the secret. */
  entropy?: number;
  /** Patterns of known non-secrets (case-insensitive), in addition to the common placeholders. */
  allow?: string[];
  /** A pattern that must also occur somewhere in the same file (`kind: Config` of a kubeconfig). */
  requires?: string;
  /** `false` in a rules file turns the built-in rule of the same id off. */
  enabled?: boolean;
}
