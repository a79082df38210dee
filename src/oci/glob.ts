/** Glob match: `*` matches any run of characters, `/` included (`team/*` is all of `team`). */
export function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${re}$`).test(name);
}
