import type { DistroRecord } from "./distro-record.js";
import { stanzas } from "./distro-record.js";

export const APK_DATABASE = "lib/apk/db/installed";

/** The packages of Alpine's `lib/apk/db/installed`: `P:` name, `V:` version, `A:` arch, `o:` origin (the source package, same version). */
export function parseApkInstalled(text: string): DistroRecord[] {
  const out: DistroRecord[] = [];
  for (const f of stanzas(text, false)) {
    const name = f.get("P");
    const version = f.get("V");
    if (!name || !version) continue;
    const arch = f.get("A");
    out.push({ name, version, ...(arch ? { arch } : {}), source: { name: f.get("o") || name, version } });
  }
  return out;
}
