/** Glob match: `*` matches any run of characters, `/` included (`team/*` is all of `team`). */
export function globMatch(pattern: string, name: string): boolean {
  return compileGlob(pattern).test(name);
}

/** The RegExp of a glob, for callers that match one pattern against many names. */
export function compileGlob(pattern: string): RegExp {
  const re = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${re}$`);
}
