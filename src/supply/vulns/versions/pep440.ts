import type { VersionOrder } from "./version-order.js";

/**
 * PEP 440 version order (as the `packaging` library's Version sorts): epoch, release with trailing
 * zeros ignored, then `devN < aN < bN < rcN < release < postN`, local versions (`+ubuntu1`) above
 * the public one. Accepts the spellings PEP 440 normalises (`1.0RC1`, `1.0-alpha.1`, `v1.0`,
 * `1.0-1` as post-release, `1.0.post`, upper case).
 */
export const pep440: VersionOrder = { name: "pep440", compare, valid };

const PATTERN = new RegExp(
  "^\\s*v?" +
    "(?:(?<epoch>[0-9]+)!)?" +
    "(?<release>[0-9]+(?:\\.[0-9]+)*)" +
    "(?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?" +
    "(?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?" +
    "(?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?" +
    "(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?" +
    "\\s*$",
  "i",
);

/** A parsed version; numbers as bigint because release segments like dates overflow nothing then. */
interface Key {
  epoch: bigint;
  release: bigint[];
  /** [rank, n]: rank -2 = dev-only (sorts before any pre-release), 0..2 = a/b/rc, 3 = none. */
  pre: [number, bigint];
  post: bigint | undefined;
  dev: bigint | undefined;
  local: (bigint | string)[] | undefined;
}

const PRE_RANK: Record<string, number> = { a: 0, alpha: 0, b: 1, beta: 1, c: 2, rc: 2, pre: 2, preview: 2 };

function parse(version: string): Key | undefined {
  const g = PATTERN.exec(version)?.groups;
  if (!g) return undefined;
  const release = g.release!.split(".").map(BigInt);
  while (release.length > 1 && release[release.length - 1] === 0n) release.pop();
  const post = g.post === undefined ? undefined : BigInt(g.post_n1 ?? g.post_n2 ?? 0);
  const dev = g.dev === undefined ? undefined : BigInt(g.dev_n ?? 0);
  let pre: [number, bigint];
  if (g.pre !== undefined) pre = [PRE_RANK[g.pre_l!.toLowerCase()]!, BigInt(g.pre_n ?? 0)];
  else if (post === undefined && dev !== undefined) pre = [-2, 0n];
  else pre = [3, 0n];
  const local = g.local?.toLowerCase().split(/[-_.]/).map((part) => (/^[0-9]+$/.test(part) ? BigInt(part) : part));
  return { epoch: BigInt(g.epoch ?? 0), release, pre, post, dev, local };
}

export function valid(version: string): boolean {
  return parse(version) !== undefined;
}

export function compare(a: string, b: string): number {
  const ka = parse(a);
  const kb = parse(b);
  if (!ka || !kb) return ka ? 1 : kb ? -1 : a < b ? -1 : a > b ? 1 : 0;
  return (
    cmp(ka.epoch, kb.epoch) ||
    cmpRelease(ka.release, kb.release) ||
    cmp(ka.pre[0], kb.pre[0]) ||
    cmp(ka.pre[1], kb.pre[1]) ||
    cmpOptional(ka.post, kb.post, -1) ||
    cmpOptional(ka.dev, kb.dev, 1) ||
    cmpLocal(ka.local, kb.local)
  );
}

function cmp<T extends number | bigint | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpRelease(a: bigint[], b: bigint[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const c = cmp(a[i] ?? 0n, b[i] ?? 0n);
    if (c) return c;
  }
  return 0;
}

/** `missing` says where an absent value sorts: -1 below every number (post), 1 above (dev). */
function cmpOptional(a: bigint | undefined, b: bigint | undefined, missing: -1 | 1): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? missing : -missing;
  return cmp(a, b);
}

/** Local segments: numbers sort above strings, strings lexically; a longer local wins a tie. */
function cmpLocal(a: (bigint | string)[] | undefined, b: (bigint | string)[] | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (typeof x !== typeof y) return typeof x === "bigint" ? 1 : -1;
    const c = cmp(x, y);
    if (c) return c;
  }
  return cmp(a.length, b.length);
}
