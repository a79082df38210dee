import type { SecretRule } from "./rules.js";

/**
 * Which keywords of a set of rules a text holds, in one pass over it: the same answer as
 * `text.toLowerCase().includes(keyword)` for each keyword, at the cost of one search instead of
 * one per keyword per rule (that pre-filter was half of a layer scan's time).
 */
export interface KeywordIndex {
  present(text: string): ReadonlySet<string>;
}

const cache = new Map<string, KeywordIndex>();
const MAX_CACHED = 64;

/** The index of every keyword of `rules` (built once per distinct keyword set). */
export function keywordIndexOf(rules: readonly SecretRule[]): KeywordIndex {
  const keywords = [...new Set(rules.flatMap((r) => r.keywords))].sort();
  const key = keywords.join("\0");
  let index = cache.get(key);
  if (!index) {
    if (cache.size >= MAX_CACHED) cache.clear();
    index = createKeywordIndex(keywords);
    cache.set(key, index);
  }
  return index;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

const MAX_SEARCHES = 256;

function createKeywordIndex(keywords: readonly string[]): KeywordIndex {
  const within = new Map(keywords.map((k) => [k, keywords.filter((o) => k.includes(o))] as const));
  const searches = new Map<string, RegExp>();
  /**
   * One RegExp over the keywords not yet found: each match finds a new one, so a text dense with
   * `token` costs one match, not one per occurrence. Longest first: of the keywords starting at
   * one place the longest matches, and those within it are found with it.
   */
  const searchFor = (found: ReadonlySet<string>): RegExp => {
    const rest = keywords.filter((k) => !found.has(k));
    const key = rest.join("\0");
    let re = searches.get(key);
    if (!re) {
      if (searches.size >= MAX_SEARCHES) searches.clear();
      re = new RegExp([...rest].sort((a, b) => b.length - a.length).map(escape).join("|"), "g");
      searches.set(key, re);
    }
    return re;
  };
  return {
    present(text) {
      const found = new Set<string>();
      if (keywords.length === 0) return found;
      // Lowered, then matched literally: exactly `includes` on the lowered text (a case-insensitive RegExp folds case differently outside ASCII).
      const lower = text.toLowerCase();
      for (let from = 0; found.size < keywords.length; ) {
        const re = searchFor(found);
        re.lastIndex = from;
        const m = re.exec(lower);
        if (m === null) break;
        for (const k of within.get(m[0])!) found.add(k);
        from = m.index + 1;
      }
      return found;
    },
  };
}
