import type { Package } from "../packages.js";
import type { OsInfo } from "./os-release.js";
import { purl } from "./purl.js";

/** A package of a distribution's database, before the image's OS (known once all layers are read) names its ecosystem. */
export interface DistroRecord {
  name: string;
  version: string;
  arch?: string;
  source: { name: string; version: string };
}

/** Debian/Ubuntu packages, as `pkg:deb/<distro>/…?arch=…&distro=<id>-<version>`. */
export function debPackages(records: readonly DistroRecord[], os: OsInfo | undefined, location: string): Package[] {
  const vendor = os?.id === "ubuntu" ? "ubuntu" : "debian";
  const ecosystem = os?.ecosystem && /^(Debian|Ubuntu)\b/.test(os.ecosystem) ? os.ecosystem : vendor === "ubuntu" ? "Ubuntu" : "Debian";
  const distro = os?.versionId ? `${vendor}-${os.versionId}` : undefined;
  return records.map((r) => ({
    ecosystem,
    name: r.name,
    version: r.version,
    source: r.source,
    purl: purl("deb", vendor, r.name, r.version, { arch: r.arch, distro }),
    locations: [location],
  }));
}

/** Alpine packages, as `pkg:apk/alpine/…?arch=…&distro=<VERSION_ID>`. */
export function apkPackages(records: readonly DistroRecord[], os: OsInfo | undefined, location: string): Package[] {
  const ecosystem = os?.ecosystem?.startsWith("Alpine") ? os.ecosystem : "Alpine";
  return records.map((r) => ({
    ecosystem,
    name: r.name,
    version: r.version,
    source: r.source,
    purl: purl("apk", "alpine", r.name, r.version, { arch: r.arch, distro: os?.id === "alpine" ? os.versionId : undefined }),
    locations: [location],
  }));
}

/** The stanzas of an RFC 822-style database (dpkg status, apk installed): blank-line separated, with continuation lines. */
export function* stanzas(text: string, continuation = true): Generator<Map<string, string>> {
  let fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      if (fields.size > 0) yield fields;
      fields = new Map();
      last = undefined;
      continue;
    }
    if (continuation && (line[0] === " " || line[0] === "\t")) {
      if (last !== undefined) fields.set(last, `${fields.get(last)}\n${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    if (!fields.has(last)) fields.set(last, line.slice(colon + 1).trim());
  }
  if (fields.size > 0) yield fields;
}
