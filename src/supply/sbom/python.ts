import type { Package } from "../packages.js";
import { normalizePypiName, purl } from "./purl.js";

/** Python distribution metadata: `x.dist-info/METADATA` (wheels, pip) or `x.egg-info/PKG-INFO` (and an `x.egg-info` file). */
export function isPythonMetadata(path: string): boolean {
  return /\.dist-info\/METADATA$/.test(path) || /\.egg-info\/PKG-INFO$/.test(path) || /\.egg-info$/.test(path);
}

/** The distribution a METADATA / PKG-INFO file describes: its `Name` and `Version` headers (the body after the first blank line is not read). */
export function parsePythonMetadata(text: string, location: string): Package[] {
  let name: string | undefined;
  let version: string | undefined;
  for (const line of text.split("\n", 200)) {
    if (line.trim() === "") break;
    const m = /^(Name|Version):\s*(.+?)\s*$/i.exec(line);
    if (!m) continue;
    if (m[1]!.toLowerCase() === "name") name ??= m[2];
    else version ??= m[2];
  }
  if (!name || !version) return [];
  return [{ ecosystem: "PyPI", name, version, purl: purl("pypi", undefined, normalizePypiName(name), version), locations: [location] }];
}
