/**
 * The real-client workload of the side-by-side benchmark: `skopeo copy` of a 3-layer image of
 * incompressible bytes from an OCI layout to a registry (push) and back into a fresh layout (pull).
 *
 * Every push must upload every byte. skopeo HEADs each blob before sending it, and its blob info
 * cache (/var/lib/containers/cache for root) remembers where it pushed a blob and mounts it from
 * there into any other repository of the same registry. So each round builds a fresh image (new
 * random bytes), which every server sees for the first time, and a push that skipped a blob (its
 * --debug log says `Skipping blob … (already present)`; the plain output is the same either way)
 * is an error.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { accessSync, constants, existsSync } from "node:fs";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeImageLayout } from "../test/helpers/oci-layout.js";

/** Scratch directories not yet removed (tmpfs is memory: an interrupted run must not leave them). */
const live = new Set<string>();

async function scratchDir(root: string, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(root, prefix));
  live.add(dir);
  return dir;
}

async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  live.delete(dir);
}

/** Removes every scratch directory still there (for the bench's signal handler). */
export async function removeSkopeoScratch(): Promise<void> {
  await Promise.all([...live].map(removeDir));
}

/** Where skopeo is, or why the workload cannot run. */
export function findSkopeo(): { bin: string } | { skip: string } {
  const dirs = (process.env.PATH ?? "").split(":").filter(Boolean).concat(["/usr/bin"]);
  const bin = dirs.map((d) => join(d, "skopeo")).find((p) => existsSync(p));
  if (!bin) return { skip: "skopeo not found in PATH or /usr/bin (scripts/install-test-deps.sh installs it)" };
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  if (r.status !== 0) return { skip: `\`${bin} --version\` failed: ${(r.stderr || r.error?.message || "").trim()}` };
  return { bin };
}

export function skopeoVersion(bin: string): string {
  return (spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout ?? "").trim();
}

/** tmpfs when there is one, so the client's disk (and the fsync skopeo does per pulled blob) stays out of the figures. */
export function scratchRoot(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

/** Layer sizes of the bench image: three layers, 256 MiB in all by default. */
export function layerSizes(total: number): number[] {
  const a = Math.round(total / 2);
  const b = Math.round((total * 3) / 8);
  return [a, b, total - a - b];
}

export interface SkopeoImage {
  /** The OCI layout directory (tag `latest`). */
  dir: string;
  /** Bytes of every blob of the image: layers, config and manifest. */
  bytes: number;
  layerDigests: string[];
  remove(): Promise<void>;
}

/**
 * A fresh image under `root`: three layers of random bytes (tar holding one file, stored in gzip
 * at level 0 so skopeo copies them as they are instead of compressing them).
 */
export async function buildSkopeoImage(root: string, total: number): Promise<SkopeoImage> {
  const dir = await scratchDir(root, "bench-skopeo-image-");
  try {
    const layout = await writeImageLayout(dir, {
      ref: "latest",
      layers: layerSizes(total).map((n) => ({ randomBytes: n, seed: randomInt(2 ** 47), gzip: true })),
    });
    let bytes = 0;
    const blobs = join(dir, "blobs", "sha256");
    for (const name of await readdir(blobs)) bytes += (await stat(join(blobs, name))).size;
    return { dir, bytes, layerDigests: layout.layerDigests, remove: () => removeDir(dir) };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

/** Env for skopeo: an empty auth file, so no host credentials are read or sent. */
export async function skopeoEnv(root: string): Promise<{ env: NodeJS.ProcessEnv; remove(): Promise<void> }> {
  const dir = await scratchDir(root, "bench-skopeo-env-");
  const auth = join(dir, "auth.json");
  await writeFile(auth, JSON.stringify({ auths: {} }));
  return { env: { ...process.env, REGISTRY_AUTH_FILE: auth }, remove: () => removeDir(dir) };
}

/** Runs skopeo; resolves with its output, rejects on a non-zero exit or after `timeoutMs`. */
function runSkopeo(bin: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 600_000): Promise<string> {
  // (the policy check is skipped: a host without /etc/containers/policy.json must still run the bench)
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["--insecure-policy", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`skopeo ${args.join(" ")}: exit ${code ?? signal}\n${out.trim().split("\n").slice(-5).join("\n")}`));
    });
  });
}

/** `skopeo copy oci:<image>:latest docker://<host>/<repo>:<tag>`; throws if any blob was not uploaded. Returns seconds. */
export async function skopeoPush(bin: string, env: NodeJS.ProcessEnv, image: SkopeoImage, url: string, repo: string, tag: string): Promise<number> {
  const host = new URL(url).host;
  const t0 = performance.now();
  const out = await runSkopeo(bin, ["--debug", "copy", "--dest-tls-verify=false", `oci:${image.dir}:latest`, `docker://${host}/${repo}:${tag}`], env);
  const seconds = (performance.now() - t0) / 1000;
  const skipped = out.split("\n").filter((l) => /Skipping blob|already present/i.test(l));
  if (skipped.length) throw new Error(`skopeo push to ${host}/${repo}:${tag} did not upload every blob:\n${skipped.join("\n")}`);
  return seconds;
}

/** `skopeo copy docker://<host>/<repo>:<tag> oci:<fresh dir>:latest` under `root` (skopeo verifies every digest); the copy is deleted. Returns seconds. */
export async function skopeoPull(bin: string, env: NodeJS.ProcessEnv, root: string, url: string, repo: string, tag: string, image: SkopeoImage): Promise<number> {
  const host = new URL(url).host;
  const dir = await scratchDir(root, "bench-skopeo-pull-");
  try {
    const t0 = performance.now();
    await runSkopeo(bin, ["copy", "--src-tls-verify=false", `docker://${host}/${repo}:${tag}`, `oci:${dir}:latest`], env);
    const seconds = (performance.now() - t0) / 1000;
    const present = new Set(await readdir(join(dir, "blobs", "sha256")));
    const missing = image.layerDigests.filter((d) => !present.has(d.slice("sha256:".length)));
    if (missing.length) throw new Error(`skopeo pull from ${host}/${repo}:${tag} lacks layers ${missing.join(", ")}`);
    return seconds;
  } finally {
    await removeDir(dir);
  }
}
