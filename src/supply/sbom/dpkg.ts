import type { DistroRecord } from "./distro-record.js";
import { stanzas } from "./distro-record.js";

/** Where dpkg keeps its database: one `status` file, or (distroless) one file per package under `status.d/`. */
export function isDpkgDatabase(path: string): boolean {
  return path === "var/lib/dpkg/status" || (path.startsWith("var/lib/dpkg/status.d/") && !path.endsWith(".md5sums") && path.indexOf("/", 22) < 0);
}

/**
 * The installed packages of a dpkg status file: stanzas whose `Status` is `install ok installed`
 * (distroless `status.d` files carry no Status: all of theirs count). `Source: glibc (2.36-9)`
 * names the source package and its own version; without one the package is its own source.
 */
export function parseDpkgStatus(text: string): DistroRecord[] {
  const out: DistroRecord[] = [];
  for (const f of stanzas(text)) {
    const name = f.get("Package");
    const version = f.get("Version");
    if (!name || !version) continue;
    const status = f.get("Status");
    if (status !== undefined && status.split(/\s+/).join(" ") !== "install ok installed") continue;
    const m = /^(\S+)(?:\s*\(([^)]+)\))?/.exec(f.get("Source") ?? "");
    const source = m ? { name: m[1]!, version: m[2]?.trim() || version } : { name, version };
    const arch = f.get("Architecture");
    out.push({ name, version, ...(arch ? { arch } : {}), source });
  }
  return out;
}
