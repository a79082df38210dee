/**
 * Package URLs (https://github.com/package-url/purl-spec): `pkg:type/namespace/name@version?qualifiers`.
 * Each segment is percent-encoded (as packageurl-js does: `@` → `%40`, `+` → `%2B`, `:` kept);
 * qualifiers are sorted by key and empty ones left out.
 */
export function purl(type: string, namespace: string | undefined, name: string, version?: string, qualifiers: Record<string, string | undefined> = {}): string {
  const seg = (s: string) => encodeURIComponent(s).replace(/%3A/gi, ":");
  const ns = namespace ? `${namespace.split("/").filter(Boolean).map(seg).join("/")}/` : "";
  const q = Object.entries(qualifiers)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== "")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k.toLowerCase()}=${seg(v)}`)
    .join("&");
  return `pkg:${type}/${ns}${seg(name)}${version ? `@${seg(version)}` : ""}${q ? `?${q}` : ""}`;
}

/** A Python distribution name as PEP 503 compares them: lower case, runs of `-`, `_`, `.` as one `-`. */
export function normalizePypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}
