import { RegistryError } from "./errors.js";
import { globMatch } from "./glob.js";

/**
 * Tag rules: per repository glob, which tags are immutable, which names are forbidden and which
 * patterns a tag must follow. Pure evaluation; the registry decides when to ask.
 *
 * A tag pattern is one of:
 * - a preset: `semver` (`1.2.3`, `v1.2.3`, `v1.2.3-rc.1`) or `git-sha` (`git-` and 7 to 40 hex digits);
 * - a regular expression between slashes, `/^v\d+$/`, optionally with the `i` flag (`/^rc/i`);
 *   like any JavaScript regex it matches anywhere in the tag unless anchored with `^` and `$`;
 * - anything else is a glob: `*` matches any run of characters, the rest is literal (`v*`, `latest`).
 */

/** A rule as configured; every list is of tag patterns. */
export interface TagRule {
  /** Named in refusals; `tagRules[i]` when the configuration gives none. */
  name: string;
  /** Glob of the repositories the rule covers (`prod/*`, `*`). */
  repositories: string;
  /** Tags that, once they exist, can be neither moved to another manifest nor deleted. */
  immutable: readonly string[];
  /** Tag names no push may set. */
  forbid: readonly string[];
  /** When not empty, every tag pushed must match at least one of these. */
  require: readonly string[];
}

export const TAG_PATTERN_PRESETS: Readonly<Record<string, RegExp>> = {
  semver: /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/,
  "git-sha": /^git-[0-9a-f]{7,40}$/,
};

const REGEX_PATTERN = /^\/(.*)\/(i?)$/s;

/** Why `pattern` is not a usable tag pattern, or undefined when it is (for config validation). */
export function tagPatternProblem(pattern: string): string | undefined {
  if (pattern === "") return "empty tag pattern";
  const regex = REGEX_PATTERN.exec(pattern);
  if (!regex) return undefined;
  if (regex[1] === "") return `empty regular expression ${pattern}`;
  try {
    new RegExp(regex[1]!, regex[2]);
    return undefined;
  } catch (err) {
    return `invalid regular expression ${pattern}: ${(err as Error).message}`;
  }
}

/** A predicate for one tag pattern; throws on an invalid regex (validate with tagPatternProblem first). */
export function compileTagPattern(pattern: string): (tag: string) => boolean {
  const preset = TAG_PATTERN_PRESETS[pattern];
  if (preset) return (tag) => preset.test(tag);
  const regex = REGEX_PATTERN.exec(pattern);
  if (regex) {
    const re = new RegExp(regex[1]!, regex[2]);
    return (tag) => re.test(tag);
  }
  return (tag) => globMatch(pattern, tag);
}

/** Answers the rules' questions about one repository's tags. */
export interface TagRules {
  /** Whether any rule is configured at all (lets callers skip work). */
  readonly empty: boolean;
  /** The name of the first rule that makes `tag` of `repo` immutable, or undefined. */
  immutableRule(repo: string, tag: string): string | undefined;
  /** Throws TAG_INVALID when a rule covering `repo` forbids `tag` or requires a pattern it lacks. */
  checkName(repo: string, tag: string): void;
}

interface CompiledRule {
  rule: TagRule;
  immutable: ((tag: string) => boolean)[];
  forbid: ((tag: string) => boolean)[];
  require: ((tag: string) => boolean)[];
}

/** Compiles `rules` once; throws on an invalid regex (the config schema reports those first). */
export function createTagRules(rules: readonly TagRule[] = []): TagRules {
  const compiled: CompiledRule[] = rules.map((rule) => ({
    rule,
    immutable: rule.immutable.map(compileTagPattern),
    forbid: rule.forbid.map(compileTagPattern),
    require: rule.require.map(compileTagPattern),
  }));
  const covering = (repo: string) => compiled.filter((c) => globMatch(c.rule.repositories, repo));
  return {
    empty: compiled.length === 0,
    immutableRule(repo, tag) {
      return covering(repo).find((c) => c.immutable.some((m) => m(tag)))?.rule.name;
    },
    checkName(repo, tag) {
      for (const { rule, forbid, require } of covering(repo)) {
        if (forbid.some((m) => m(tag))) {
          throw new RegistryError("TAG_INVALID", `tag "${tag}" is forbidden by tag rule "${rule.name}" in ${repo}`, {
            tag,
            rule: rule.name,
          });
        }
        if (require.length > 0 && !require.some((m) => m(tag))) {
          throw new RegistryError(
            "TAG_INVALID",
            `tag "${tag}" does not match tag rule "${rule.name}", which requires ${rule.require.join(" or ")} in ${repo}`,
            { tag, rule: rule.name },
          );
        }
      }
    },
  };
}

/** The refusal of a push that would move an immutable tag to another manifest. */
export function immutableMoveError(tag: string, rule: string): RegistryError {
  return new RegistryError(
    "DENIED",
    `tag "${tag}" is immutable under tag rule "${rule}": it cannot be moved to another manifest`,
    { tag, rule },
  );
}

/** The refusal of a delete of an immutable tag, or (with `digest`) of the manifest it points at. */
export function immutableDeleteError(tag: string, rule: string, digest?: string): RegistryError {
  const what = digest ? `manifest ${digest} is tagged "${tag}", which` : `tag "${tag}"`;
  return new RegistryError("DENIED", `${what} is immutable under tag rule "${rule}": it cannot be deleted`, { tag, rule });
}
