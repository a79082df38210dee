import { createServer, type AddressInfo } from "node:net";
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';

/** Returns the absolute path of an executable found on PATH, or undefined. */
export function whichSync(name: string): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '').split(delimiter).filter(isAbsolute).map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Returns the names, in order, of the executables that are not on PATH. */
export function missingTools(...names: string[]): string[] {
  return names.filter((name) => whichSync(name) === undefined);
}

/**
 * Returns false when every tool is on PATH, otherwise a skip reason for
 * `describe(name, { skip: skipUnlessTools(...) })`. Under CI=true missing
 * tools throw instead, so that CI fails rather than silently skipping.
 */
export function skipUnlessTools(...names: string[]): false | string {
  const missing = missingTools(...names);
  if (missing.length === 0) return false;
  const reason =
    `needs ${missing.join(', ')} ` +
    `(apt-get install ${[...new Set(missing.map(debianPackage))].join(' ')}, or run scripts/install-test-deps.sh)`;
  if (process.env.CI === 'true') throw new Error(`missing test tools in CI: ${reason}`);
  return reason;
}

const PACKAGE_OF: Record<string, string> = {
  docker: 'docker.io',
  dockerd: 'docker.io',
  ctr: 'containerd',
  newuidmap: 'uidmap',
  newgidmap: 'uidmap',
  'systemd-analyze': 'systemd',
  'ssh-keygen': 'openssh-client',
};

function debianPackage(tool: string): string {
  return PACKAGE_OF[tool] ?? tool;
}

/** Options for {@link run}. */
export interface RunOptions {
  /** Merged over process.env; an undefined value removes the variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Written to the child's stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Default 120 s; on expiry the child is SIGKILLed and the promise rejects. */
  timeoutMs?: number;
  /** Resolve on a non-zero exit instead of rejecting. */
  allowFail?: boolean;
}

/** Outcome of {@link run}; `code` is 128+N when the child died of signal N. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Error thrown by {@link run}; carries whatever the child printed. */
export class RunError extends Error implements RunResult {
  constructor(
    message: string,
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'RunError';
  }
}

/** Last `lines` lines of a text, for error messages. */
export function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function withTail(message: string, stderr: string): string {
  const last = tail(stderr);
  return last ? `${message}\n${last}` : message;
}

/**
 * Runs a command without a shell and collects its output. Rejects on spawn
 * failure, on timeout, and (unless allowFail) on a non-zero exit, with the
 * command line, exit code and the tail of stderr in the message.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const cmdline = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      // reject now: a grandchild holding the pipes open would delay 'close' forever
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      reject(new RunError(withTail(`${cmdline}: timed out after ${timeoutMs} ms`, stderr), 137, stdout, stderr));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new RunError(`${cmdline}: ${e.message}`, -1, '', ''));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const status = code ?? 128 + (signal ? osConstants.signals[signal] : 0);
      if (status !== 0 && !opts.allowFail) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${status}`;
        reject(new RunError(withTail(`${cmdline} ${how}`, stderr), status, stdout, stderr));
      } else {
        resolve({ code: status, stdout, stderr });
      }
    });
    if (child.stdin) {
      // the child may exit without reading its input; that is not our failure
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

/** A free loopback port, for servers that take no port 0 (docker-registry, dockerd's listeners). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
