/**
 * Shared plumbing for the real-client end-to-end tests (skopeo, podman/buildah, docker, ctr):
 * isolated containers-storage, Berth's request log, manifest digests as Berth reports them,
 * and a small tar reader to look inside what a client pulled.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { BerthProcess } from "../helpers/berth.js";
import { MediaTypes } from "../helpers/fixtures.js";

/** Every manifest media type a client may ask for. */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
].join(", ");

/**
 * A fresh all-lowercase temp dir (podman and buildah derive image names from paths,
 * and mkdtemp's suffix has capitals).
 */
export async function lowercaseTempDir(prefix: string): Promise<string> {
  const dir = join(tmpdir(), `${prefix}-${randomBytes(5).toString("hex")}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Env for podman/buildah/skopeo with their own containers-storage under `dir` and an empty
 * auth file, so nothing from the host's image store or credentials leaks into a test.
 */
export async function containersEnv(dir: string, driver: "overlay" | "vfs" = "overlay"): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const conf = join(dir, "storage.conf");
  await writeFile(
    conf,
    `[storage]\ndriver = "${driver}"\ngraphroot = "${join(dir, "graph")}"\nrunroot = "${join(dir, "run")}"\n`,
  );
  const auth = join(dir, "auth.json");
  await writeFile(auth, JSON.stringify({ auths: {} }));
  return { CONTAINERS_STORAGE_CONF: conf, REGISTRY_AUTH_FILE: auth };
}

/** Lazily unmounts whatever a client left mounted under `dir`, then removes it. */
export async function removeTree(dir: string): Promise<void> {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4]?.replace(/\\040/g, " "))
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of points) spawnSync("umount", ["-l", point], { stdio: "ignore" });
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** One access-log line of Berth. */
export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  /** Request body bytes Berth read (chunked bodies too); undefined for empty ones. */
  bytesIn?: number;
  /** Set when the body came with `Transfer-Encoding: chunked` (no Content-Length). */
  chunked?: boolean;
}

/** Berth's access log so far, parsed from the process output. */
export function requestLog(proc: BerthProcess): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of proc.output) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === "request") out.push(entry as unknown as LoggedRequest);
    } catch {
      // not a JSON line
    }
  }
  return out;
}

/** Formats requests for an assertion message, so a failure shows what the client sent. */
export function showRequests(requests: LoggedRequest[]): string {
  return requests.map((r) => `${r.method} ${r.path} -> ${r.status}${r.bytesIn ? ` (${r.bytesIn} B in)` : ""}`).join("\n");
}

/** The digest Berth reports (HEAD, Docker-Content-Digest) for a tag or digest. */
export async function berthDigest(url: string, name: string, reference: string): Promise<string> {
  const res = await fetch(`${url}/v2/${name}/manifests/${reference}`, { method: "HEAD", headers: { Accept: MANIFEST_ACCEPT } });
  assert.equal(res.status, 200, `HEAD /v2/${name}/manifests/${reference}`);
  const digest = res.headers.get("docker-content-digest");
  assert.ok(digest, "Docker-Content-Digest header");
  return digest;
}

/** GET a JSON document from Berth, asserting 200. */
export async function getJson<T>(url: string, accept = "application/json"): Promise<T> {
  const res = await fetch(url, { headers: { Accept: accept } });
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${url}: ${text}`);
  return JSON.parse(text) as T;
}

/** Reads a blob of an OCI layout on disk. */
export function layoutBlob(dir: string, digest: string): Promise<Buffer> {
  return readFile(join(dir, "blobs", "sha256", digest.slice("sha256:".length)));
}

/**
 * The regular files of a tar archive (gzip or plain), by path without a leading `./` or `/`.
 * Understands ustar prefixes, PAX `path` records and GNU long names.
 */
export function tarFiles(archive: Buffer): Map<string, Buffer> {
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const files = new Map<string, Buffer>();
  let nextPath: string | undefined;
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, len: number) => header.subarray(start, start + len).toString("utf8").replace(/\0.*$/s, "");
    const size = Number.parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1) || "0";
    const prefix = field(257, 6).startsWith("ustar") ? field(345, 155) : "";
    const body = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      const match = /\d+ path=([^\n]*)\n/.exec(body.toString("utf8"));
      if (match) nextPath = match[1];
      continue;
    }
    if (type === "L") {
      nextPath = body.toString("utf8").replace(/\0.*$/s, "");
      continue;
    }
    const path = (nextPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100))).replace(/^(\.\/|\/)+/, "");
    nextPath = undefined;
    if (type === "0" || type === "7") files.set(path, Buffer.from(body));
  }
  return files;
}

/** The one file `path` of a tar archive; fails the test when it is missing. */
export function tarFile(archive: Buffer, path: string): Buffer {
  const files = tarFiles(archive);
  const file = files.get(path.replace(/^\/+/, ""));
  assert.ok(file, `${path} not in archive; it has: ${[...files.keys()].join(", ")}`);
  return file;
}

/** Runs a command and returns its stdout as bytes (run() decodes as UTF-8); rejects on a non-zero exit. */
export function runBytes(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${code ?? signal}\n${Buffer.concat(err).toString()}`));
    });
  });
}
