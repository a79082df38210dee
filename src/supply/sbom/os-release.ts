/** The operating system of an image, read from its `etc/os-release` (or `usr/lib/os-release`). */
export interface OsInfo {
  /** `ID`: `debian`, `ubuntu`, `alpine`, … */
  id: string;
  /** `VERSION_ID`: `12`, `22.04`, `3.19.1`; absent on rolling releases (Debian sid, Alpine edge). */
  versionId?: string;
  prettyName?: string;
  /** The OSV ecosystem of its packages (`Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.19`), when Berth knows the distribution. */
  ecosystem?: string;
}

/** Parses os-release (`KEY=value`, values optionally quoted, `#` comments). */
export function parseOsRelease(text: string): OsInfo | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) value = value.slice(1, -1).replace(/\\(["'$`\\])/g, "$1");
    fields.set(m[1]!, value);
  }
  const id = fields.get("ID")?.toLowerCase();
  if (!id) return undefined;
  const versionId = fields.get("VERSION_ID") || undefined;
  const ecosystem = osvEcosystem(id, versionId, fields.get("VERSION") ?? "");
  return {
    id,
    ...(versionId ? { versionId } : {}),
    ...(fields.get("PRETTY_NAME") ? { prettyName: fields.get("PRETTY_NAME")! } : {}),
    ...(ecosystem ? { ecosystem } : {}),
  };
}

function osvEcosystem(id: string, versionId: string | undefined, version: string): string | undefined {
  switch (id) {
    case "debian":
      return versionId ? `Debian:${versionId.split(".")[0]}` : "Debian";
    case "ubuntu":
      return versionId ? `Ubuntu:${versionId}${/\bLTS\b/.test(version) ? ":LTS" : ""}` : "Ubuntu";
    case "alpine": {
      const m = versionId ? /^(\d+)\.(\d+)/.exec(versionId) : null;
      return m ? `Alpine:v${m[1]}.${m[2]}` : "Alpine";
    }
    default:
      return undefined;
  }
}
