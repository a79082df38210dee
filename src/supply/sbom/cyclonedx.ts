import { randomUUID } from "node:crypto";
import type { Package } from "../packages.js";
import type { OsInfo } from "./os-release.js";

/** The media type and artifact type of a CycloneDX JSON SBOM. */
export const CYCLONEDX_JSON = "application/vnd.cyclonedx+json";
export const CYCLONEDX_SPEC_VERSION = "1.6";

/** What an SBOM says about the image it describes. */
export interface SbomMeta {
  imageDigest: string;
  repository: string;
  os?: OsInfo | undefined;
  /** The generator, e.g. `{ name: "berth", version: "0.1.0" }`. */
  tool: { name: string; version: string };
  /** Defaults to now. */
  timestamp?: Date;
}

/** Property names Berth writes on each component, so the SBOM turns back into packages without guessing. */
export const PROPERTY = {
  ecosystem: "berth:ecosystem",
  sourceName: "berth:source-name",
  sourceVersion: "berth:source-version",
  location: "berth:location",
} as const;

type Cdx = typeof import("@cyclonedx/cyclonedx-library");
let library: Promise<Cdx> | undefined;
/** Loaded on first use: most processes (CLI commands, pulls) never build an SBOM. */
const cdx = () => (library ??= import("@cyclonedx/cyclonedx-library"));

/**
 * A CycloneDX 1.6 JSON document (the text to store) listing `packages` as library components and
 * the OS as an operating-system component, with the image as `metadata.component` (type
 * container, version = its manifest digest).
 */
export async function toCycloneDx(packages: readonly Package[], meta: SbomMeta): Promise<string> {
  const { Enums, Models, Serialize, Spec } = await cdx();
  const bom = new Models.Bom({ serialNumber: `urn:uuid:${randomUUID()}` });
  const image = new Models.Component(Enums.ComponentType.Container, meta.repository, { version: meta.imageDigest, bomRef: meta.imageDigest });
  const [algorithm, hex] = meta.imageDigest.split(":");
  if (algorithm === "sha256" && hex) image.hashes.set(Enums.HashAlgorithm["SHA-256"], hex);
  bom.metadata.component = image;
  bom.metadata.timestamp = meta.timestamp ?? new Date();
  bom.metadata.tools.components.add(new Models.Component(Enums.ComponentType.Application, meta.tool.name, { version: meta.tool.version }));
  if (meta.os) {
    const { id, versionId, prettyName, ecosystem } = meta.os;
    const os = new Models.Component(Enums.ComponentType.OperatingSystem, id, {
      bomRef: `os:${id}`,
      ...(versionId ? { version: versionId } : {}),
      ...(prettyName ? { description: prettyName } : {}),
    });
    if (ecosystem) os.properties.add(new Models.Property(PROPERTY.ecosystem, ecosystem));
    bom.components.add(os);
  }
  for (const p of packages) {
    const c = new Models.Component(Enums.ComponentType.Library, p.name, { version: p.version, purl: p.purl, bomRef: `${p.ecosystem}|${p.purl}` });
    c.properties.add(new Models.Property(PROPERTY.ecosystem, p.ecosystem));
    if (p.source) {
      c.properties.add(new Models.Property(PROPERTY.sourceName, p.source.name));
      c.properties.add(new Models.Property(PROPERTY.sourceVersion, p.source.version));
    }
    for (const l of p.locations) c.properties.add(new Models.Property(PROPERTY.location, l));
    bom.components.add(c);
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true });
}

interface CdxComponent {
  type?: string;
  name?: string;
  version?: string;
  description?: string;
  purl?: string;
  properties?: { name?: string; value?: string }[];
}

/** The OSV ecosystem a purl implies, for SBOMs other tools wrote (without Berth's properties). */
function ecosystemOfPurl(purl: string): string | undefined {
  const m = /^pkg:([^/]+)\/(?:([^/]+)\/)?[^?#]*(?:\?([^#]*))?/.exec(purl);
  if (!m) return undefined;
  const [, type, namespace, query = ""] = m;
  const distro = new URLSearchParams(query).get("distro") ?? "";
  switch (type) {
    case "npm": return "npm";
    case "pypi": return "PyPI";
    case "golang": return "Go";
    case "deb": {
      const v = /^(?:debian|ubuntu)-(\d+(?:\.\d+)?)/.exec(distro)?.[1];
      return namespace === "ubuntu" ? (v ? `Ubuntu:${v}` : "Ubuntu") : v ? `Debian:${v.split(".")[0]}` : "Debian";
    }
    case "apk": {
      const v = /(\d+)\.(\d+)/.exec(distro);
      return v ? `Alpine:v${v[1]}.${v[2]}` : "Alpine";
    }
    default: return undefined;
  }
}

/**
 * The packages and OS a CycloneDX JSON SBOM lists: library components with a name, a version and
 * an ecosystem (Berth's `berth:ecosystem` property, else one implied by the purl). Throws on text
 * that is not a CycloneDX JSON document.
 */
export function packagesFromCycloneDx(json: string | Record<string, unknown>): { packages: Package[]; os?: OsInfo } {
  const doc = (typeof json === "string" ? JSON.parse(json) : json) as { bomFormat?: string; components?: CdxComponent[] };
  if (doc.bomFormat !== "CycloneDX") throw new Error("not a CycloneDX JSON document (bomFormat is not CycloneDX)");
  const packages: Package[] = [];
  let os: OsInfo | undefined;
  for (const c of doc.components ?? []) {
    const props = c.properties ?? [];
    const prop = (name: string) => props.find((p) => p.name === name)?.value;
    if (c.type === "operating-system" && c.name) {
      const ecosystem = prop(PROPERTY.ecosystem);
      os = { id: c.name, ...(c.version ? { versionId: c.version } : {}), ...(c.description ? { prettyName: c.description } : {}), ...(ecosystem ? { ecosystem } : {}) };
      continue;
    }
    if (!c.name || !c.version || !c.purl) continue;
    const ecosystem = prop(PROPERTY.ecosystem) ?? ecosystemOfPurl(c.purl);
    if (!ecosystem) continue;
    const sourceName = prop(PROPERTY.sourceName);
    const locations = props.filter((p) => p.name === PROPERTY.location && p.value).map((p) => p.value!);
    packages.push({
      ecosystem,
      name: c.name,
      version: c.version,
      ...(sourceName ? { source: { name: sourceName, version: prop(PROPERTY.sourceVersion) ?? c.version } } : {}),
      purl: c.purl,
      locations,
    });
  }
  return { packages, ...(os ? { os } : {}) };
}
