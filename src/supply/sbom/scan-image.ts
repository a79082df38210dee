import type { Readable } from "node:stream";
import type { Digest } from "../../oci/digest.js";
import { isNonDistributable } from "../../oci/media-types.js";
import type { Registry } from "../../registry/registry.js";
import { readLayerEntries, whiteoutOf, type LayerEntry } from "../layer-entries.js";
import type { Package } from "../packages.js";
import { APK_DATABASE, parseApkInstalled } from "./apk.js";
import { apkPackages, debPackages, type DistroRecord } from "./distro-record.js";
import { isDpkgDatabase, parseDpkgStatus } from "./dpkg.js";
import { createGoBuildInfoScanner, goPackages, isElf } from "./go-buildinfo.js";
import { isInstalledPackageJson, isNpmLockfile, parseInstalledPackageJson, parseNpmLockfile } from "./npm.js";
import { parseOsRelease, type OsInfo } from "./os-release.js";
import { isPythonMetadata, parsePythonMetadata } from "./python.js";

/** What an image holds, as far as its package databases and binaries tell. */
export interface ImageContents {
  packages: Package[];
  os?: OsInfo;
  /** Layers read and their stored (compressed) bytes. */
  layers: number;
  bytes: number;
}

export interface ScanOptions {
  /** Package databases and manifests larger than this are skipped (default 64 MiB). */
  maxFileSize?: number;
}

/** What one file of a layer contributed; the OS-dependent ones are turned into packages once the OS is known. */
type Finding =
  | { kind: "os"; os: OsInfo }
  | { kind: "deb" | "apk"; records: DistroRecord[] }
  | { kind: "packages"; packages: Package[] };

const OS_RELEASE = ["etc/os-release", "usr/lib/os-release"];
/** Executables smaller than this cannot be Go binaries (the runtime alone is over 1 MiB). */
const MIN_GO_BINARY = 512 * 1024;

type TextReader = (text: string, path: string) => Finding | undefined;

function textReaderOf(path: string): TextReader | undefined {
  if (OS_RELEASE.includes(path)) return (t) => { const os = parseOsRelease(t); return os && { kind: "os", os }; };
  if (isDpkgDatabase(path)) return (t) => ({ kind: "deb", records: parseDpkgStatus(t) });
  if (path === APK_DATABASE) return (t) => ({ kind: "apk", records: parseApkInstalled(t) });
  if (isInstalledPackageJson(path)) return (t, p) => ({ kind: "packages", packages: parseInstalledPackageJson(t, p) });
  if (isNpmLockfile(path)) return (t, p) => ({ kind: "packages", packages: parseNpmLockfile(t, p) });
  if (isPythonMetadata(path)) return (t, p) => ({ kind: "packages", packages: parsePythonMetadata(t, p) });
  return undefined;
}

async function readText(body: Readable, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size <= limit ? Buffer.concat(chunks, size).toString("utf8") : undefined;
}

async function scanGoBinary(body: Readable, path: string): Promise<Finding | undefined> {
  const scanner = createGoBuildInfoScanner();
  let first = true;
  let elf = false;
  // Read to the end either way: breaking out of the loop would destroy the tar entry's stream.
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (first) elf = isElf(chunk);
    first = false;
    if (elf && !scanner.done) scanner.push(chunk);
  }
  const info = elf ? scanner.result() : undefined;
  return info && { kind: "packages", packages: goPackages(info, path) };
}

/**
 * Reads layers in order and keeps what the SBOM needs: package databases, manifests and Go build
 * info by path, as the final file system has them. A file whited out (`.wh.x`), hidden by an
 * opaque directory (`.wh..wh..opq`) or replaced by a higher layer drops what was found in it.
 * Memory holds the findings and one package database at a time, never a layer or a binary.
 */
export interface LayerScanner {
  addLayer(layer: Readable): Promise<void>;
  finish(): { packages: Package[]; os?: OsInfo };
}

export function createLayerScanner({ maxFileSize = 64 << 20 }: ScanOptions = {}): LayerScanner {
  const found = new Map<string, Finding>();

  const under = (target: string, path: string) => target === "" || path === target || path.startsWith(`${target}/`);

  return {
    async addLayer(layer) {
      const hidden: { target: string; self: boolean }[] = [];
      const replaced = new Set<string>();
      const layerFound = new Map<string, Finding>();
      await readLayerEntries(layer, async (entry: LayerEntry, body) => {
        const wh = whiteoutOf(entry.path);
        if (wh) {
          hidden.push({ target: wh.target, self: wh.kind === "file" });
          return;
        }
        if (found.has(entry.path) && entry.type !== "directory") replaced.add(entry.path);
        if (entry.type !== "file") return;
        const reader = textReaderOf(entry.path);
        let finding: Finding | undefined;
        if (reader) {
          const text = await readText(body, maxFileSize);
          finding = text === undefined ? undefined : reader(text, entry.path);
        } else if (entry.size >= MIN_GO_BINARY && (entry.mode & 0o111) !== 0) {
          finding = await scanGoBinary(body, entry.path);
        }
        if (finding) layerFound.set(entry.path, finding);
      });
      for (const path of replaced) found.delete(path);
      if (hidden.length > 0) {
        for (const path of found.keys()) {
          // An opaque directory keeps itself and hides what lies under it; a whiteout removes the path too.
          if (hidden.some((h) => (h.self ? under(h.target, path) : path.startsWith(h.target === "" ? "" : `${h.target}/`)))) found.delete(path);
        }
      }
      for (const [path, f] of layerFound) found.set(path, f);
    },

    finish() {
      const osFinding = OS_RELEASE.map((p) => found.get(p)).find((f) => f?.kind === "os");
      const os = osFinding?.kind === "os" ? osFinding.os : undefined;
      const merged = new Map<string, Package>();
      const add = (p: Package) => {
        const key = `${p.ecosystem}\0${p.purl}`;
        const seen = merged.get(key);
        if (!seen) merged.set(key, { ...p, locations: [...p.locations] });
        else for (const l of p.locations) if (!seen.locations.includes(l)) seen.locations.push(l);
      };
      for (const [path, f] of [...found].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (f.kind === "deb") debPackages(f.records, os, path).forEach(add);
        else if (f.kind === "apk") apkPackages(f.records, os, path).forEach(add);
        else if (f.kind === "packages") f.packages.forEach(add);
      }
      return { packages: [...merged.values()], ...(os ? { os } : {}) };
    },
  };
}

/** The image manifest's layers Berth can read: tar layers (plain or gzip) held by the registry. */
function layersOf(content: Buffer): { digest: Digest; mediaType: string; size: number; urls?: string[] }[] {
  const manifest = JSON.parse(content.toString("utf8")) as { layers?: { digest: Digest; mediaType: string; size: number; urls?: string[] }[] };
  return (manifest.layers ?? []).filter((l) => !(isNonDistributable(l.mediaType) && l.urls?.length));
}

/**
 * Lists the packages of the image manifest `digest` of `repo` by reading each of its layers once,
 * in order, from the registry's blob store. Rejects with a LayerFormatError for a layer Berth
 * cannot read (zstd), or with the registry's error for a missing blob.
 */
export async function scanImage(registry: Pick<Registry, "manifests" | "blobs">, repo: string, digest: Digest, options: ScanOptions = {}): Promise<ImageContents> {
  const manifest = await registry.manifests.get(repo, { kind: "digest", digest });
  const scanner = createLayerScanner(options);
  let bytes = 0;
  const layers = layersOf(manifest.content);
  for (const layer of layers) {
    const blob = await registry.blobs.open(repo, layer.digest);
    await scanner.addLayer(blob.stream);
    bytes += blob.size;
  }
  return { ...scanner.finish(), layers: layers.length, bytes };
}
