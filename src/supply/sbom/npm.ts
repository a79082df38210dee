import type { Package } from "../packages.js";
import { purl } from "./purl.js";

/** A package's own manifest inside node_modules (`…/node_modules/x/package.json`, `…/node_modules/@s/x/package.json`), not files nested deeper in it. */
export function isInstalledPackageJson(path: string): boolean {
  return /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/@.][^/]*\/package\.json$/.test(path);
}

/** An application's lockfile; those shipped inside node_modules (and npm's hidden `.package-lock.json`) describe nothing installed. */
export function isNpmLockfile(path: string): boolean {
  return (path === "package-lock.json" || path.endsWith("/package-lock.json") || path.endsWith("/npm-shrinkwrap.json") || path === "npm-shrinkwrap.json") && !path.includes("node_modules/");
}

export function npmPackage(name: string, version: string, location: string): Package {
  const at = name.startsWith("@") ? name.indexOf("/") : -1;
  const p = at > 0 ? purl("npm", name.slice(0, at), name.slice(at + 1), version) : purl("npm", undefined, name, version);
  return { ecosystem: "npm", name, version, purl: p, locations: [location] };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** The package an installed `package.json` describes (name and version), if it names both. */
export function parseInstalledPackageJson(text: string, location: string): Package[] {
  const json = parseJson(text);
  const name = str(json?.name);
  const version = str(json?.version);
  return name && version ? [npmPackage(name, version, location)] : [];
}

/**
 * The packages a package-lock.json (or npm-shrinkwrap.json) pins: `packages` keyed by install path
 * (lockfileVersion 2 and 3), else the nested `dependencies` tree (version 1). Links (workspaces,
 * `file:` deps) and the root project are left out; bundled and dev packages are kept, as installed.
 */
export function parseNpmLockfile(text: string, location: string): Package[] {
  const json = parseJson(text);
  if (!json) return [];
  const out: Package[] = [];
  const packages = json.packages;
  if (typeof packages === "object" && packages !== null) {
    for (const [path, entry] of Object.entries(packages as Record<string, Record<string, unknown>>)) {
      if (path === "" || typeof entry !== "object" || entry === null || entry.link === true) continue;
      const version = str(entry.version);
      const i = path.lastIndexOf("node_modules/");
      const name = str(entry.name) ?? (i >= 0 ? path.slice(i + "node_modules/".length) : undefined);
      if (name && version && !version.startsWith("file:")) out.push(npmPackage(name, version, location));
    }
    return out;
  }
  const walk = (deps: unknown) => {
    if (typeof deps !== "object" || deps === null) return;
    for (const [name, entry] of Object.entries(deps as Record<string, Record<string, unknown>>)) {
      const version = str(entry?.version);
      const alias = version && /^npm:(@?[^@]+)@(.+)$/.exec(version);
      if (alias) out.push(npmPackage(alias[1]!, alias[2]!, location));
      else if (version && !/^(file|link|git\+?[a-z]*|https?):/.test(version)) out.push(npmPackage(name, version, location));
      walk(entry?.dependencies);
    }
  };
  walk(json.dependencies);
  return out;
}
