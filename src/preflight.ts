import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { ConfigError } from "./config/load.js";
import type { Config } from "./config/schema.js";

/**
 * What `berth serve` checks before it creates anything on disk, each failure a ConfigError of one
 * line naming the cause and the fix: TLS files readable and matching, the listen address free,
 * the directories of the embedded stores creatable or writable.
 */

function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === "ENOENT" ? "no such file" : e.code === "EACCES" ? "permission denied" : e.code === "ENOTDIR" ? "a part of the path is not a directory" : (e.message ?? String(err)).split("\n")[0]!;
}

function readTlsFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${reasonOf(err)}; check the path (--tls-cert/--tls-key, BERTH_TLS_CERT/BERTH_TLS_KEY) and that Berth's user may read it`);
  }
}

/** Reads the certificate and key, and checks that they parse and belong together. */
export function loadTlsMaterial(config: Config): { cert: Buffer; key: Buffer } | undefined {
  if (config.tls.cert === undefined || config.tls.key === undefined) return undefined;
  const cert = readTlsFile(config.tls.cert, "tls.cert");
  const key = readTlsFile(config.tls.key, "tls.key");
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new ConfigError(`tls.cert ${config.tls.cert} is not a PEM certificate; give the server certificate (chain) in PEM`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError(`tls.key ${config.tls.key} is not an unencrypted PEM private key; give the certificate's private key in PEM`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new ConfigError(`tls.key ${config.tls.key} does not belong to the certificate in tls.cert ${config.tls.cert}; give the matching pair`);
  }
  return { cert, key };
}

/** The error `listen` gives, as the operator's one line. */
export function listenError(err: unknown, listen: string): ConfigError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === "EADDRINUSE"
      ? "the address is already in use (another Berth or service?); stop it or choose another port"
      : code === "EACCES"
        ? "permission denied (ports below 1024 need privileges); choose a port above 1023"
        : code === "EADDRNOTAVAIL"
          ? "this machine has no such address; choose one of its own addresses"
          : `${reasonOf(err)}; choose another address`;
  return new ConfigError(`cannot listen on ${listen}: ${why} (--listen or BERTH_LISTEN)`);
}

/** Binds and releases the address, so a busy port is found before anything is created. Port 0 is always free. */
export async function checkListen(host: string, port: number, listen: string): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((done, fail) => {
    probe.once("error", (err) => fail(listenError(err, listen)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => done()));
  });
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new ConfigError(`cannot use ${path}: ${reasonOf(err)}; check --data/BERTH_DATA`);
  }
}

function requireWritableDir(dir: string, setting: string): void {
  if (!statSync(dir).isDirectory()) throw new ConfigError(`${setting} ${dir} is not a directory; point ${setting} at a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new ConfigError(`${setting} ${dir} is not writable by this user; fix its permissions or choose another (--data, BERTH_DATA)`);
  }
}

/**
 * The directories the embedded stores write: each must be a writable directory, or be creatable
 * as one level below an existing writable directory (a missing parent is a mistyped or unmounted
 * path, not something to create).
 */
export function checkDirectories(config: Config): void {
  const dirs: [string, string][] = [];
  if (config.storage.driver === "filesystem" || config.database.driver === "sqlite") dirs.push([config.data, "data directory"]);
  if (config.storage.driver === "filesystem" && config.storage.path) dirs.push([resolve(config.storage.path), "storage.path"]);
  if (config.database.driver === "sqlite" && config.database.path) dirs.push([dirname(resolve(config.database.path)), "database.path's directory"]);
  const planned = new Set<string>();
  for (const [dir, setting] of dirs) {
    if (planned.has(dir)) continue;
    if (exists(dir)) {
      requireWritableDir(dir, setting);
      continue;
    }
    const parent = dirname(dir);
    if (!planned.has(parent)) {
      if (!exists(parent)) {
        throw new ConfigError(`the ${setting} ${dir} is missing and so is its parent ${parent}; create the parent, or point --data/BERTH_DATA at the right place`);
      }
      requireWritableDir(parent, `parent of the ${setting}`);
    }
    planned.add(dir);
  }
}
