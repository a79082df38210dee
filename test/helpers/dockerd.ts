import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { missingTools, run, tail } from './tools.js';

/** A private Docker engine started for tests. */
export interface Dockerd {
  /** Value for DOCKER_HOST, e.g. unix:///tmp/bd-abc123/exec/docker.sock. */
  host: string;
  /** Socket of the containerd that dockerd manages, for `ctr --address`. */
  containerdAddress: string;
  /** Env to pass to `docker` so it talks to this engine. */
  env: { DOCKER_HOST: string };
  /** PID of the dockerd process. */
  pid: number;
  /** Temp dir holding data-root, exec-root and dockerd.log. */
  dir: string;
  /** Stops dockerd (SIGTERM, SIGKILL after 20 s) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

/** Daemons not stopped yet, killed synchronously if the process exits first. */
const live = new Map<number, { dir: string; containerdPidFile: string }>();
let hooksInstalled = false;

function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function readPid(file: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
}

/**
 * Lazily unmounts everything mounted under `dir`. dockerd bind-mounts its
 * data-root onto itself and only undoes that on a clean shutdown, so after a
 * SIGKILL the temp dir cannot be removed without this.
 */
function unmountUnder(dir: string): void {
  let mountinfo = '';
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of points) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
}

function killAllLive(): void {
  for (const [pid, { dir, containerdPidFile }] of live) {
    killQuietly(pid, 'SIGKILL');
    // dockerd puts its containerd in its own process group: it outlives a SIGKILLed parent
    killQuietly(readPid(containerdPidFile), 'SIGKILL');
    unmountUnder(dir);
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllLive);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllLive();
      process.removeListener(signal, onSignal);
      // keep the default outcome of the signal when nobody else handles it
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function logTail(logPath: string): Promise<string> {
  try {
    return tail(await readFile(logPath, 'utf8'), 30);
  } catch {
    return '(no dockerd log)';
  }
}

/** Finds the containerd socket under dockerd's exec-root. */
async function findContainerdSocket(execRoot: string): Promise<string | undefined> {
  const expected = join(execRoot, 'containerd', 'containerd.sock');
  const isSocket = async (p: string): Promise<boolean> => (await lstat(p).catch(() => undefined))?.isSocket() ?? false;
  if (await isSocket(expected)) return expected;
  for (const entry of await readdir(execRoot, { recursive: true })) {
    const p = join(execRoot, entry);
    if (p.endsWith('/containerd.sock') && (await isSocket(p))) return p;
  }
  return undefined;
}

/**
 * Starts a private dockerd (vfs storage, no networking setup) in a short temp
 * dir, waits until `docker version` answers, and locates its managed
 * containerd. A process exit handler kills it if stop() is never called.
 */
export async function startDockerd(opts: { extraArgs?: string[] } = {}): Promise<Dockerd> {
  // unix socket paths are capped at 108 bytes, so stay near the root
  const dir = await mkdtemp('/tmp/bd-');
  const execRoot = join(dir, 'exec');
  await mkdir(execRoot);
  const sock = join(execRoot, 'docker.sock');
  const host = `unix://${sock}`;
  const logPath = join(dir, 'dockerd.log');
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      'dockerd',
      [
        '--iptables=false',
        '--ip-forward=false',
        '--ip-masq=false',
        '--bridge=none',
        '--storage-driver=vfs',
        `--data-root=${join(dir, 'data')}`,
        `--exec-root=${execRoot}`,
        `--pidfile=${join(execRoot, 'dockerd.pid')}`,
        '-H',
        host,
        ...(opts.extraArgs ?? []),
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
  } finally {
    closeSync(logFd);
  }
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = child.pid;
  if (pid === undefined) {
    const err = await spawnError;
    await rm(dir, { recursive: true, force: true });
    throw new Error(`could not start dockerd: ${err.message}`);
  }
  installExitHooks();
  live.set(pid, { dir, containerdPidFile: join(execRoot, 'containerd', 'containerd.pid') });
  // a forgotten stop() must not keep the test process alive; the exit hook kills dockerd
  child.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      child.ref();
      const containerdPid = readPid(join(execRoot, 'containerd', 'containerd.pid'));
      killQuietly(pid, 'SIGTERM');
      const done = exited(child);
      const grace = new AbortController();
      const timedOut = await Promise.race([
        done.then(() => false),
        sleep(STOP_TIMEOUT_MS, true, { signal: grace.signal }).catch(() => false),
      ]);
      grace.abort();
      if (timedOut) {
        killQuietly(pid, 'SIGKILL');
        await done;
        // a clean dockerd shutdown stops containerd; a SIGKILLed one leaves it behind
        killQuietly(containerdPid, 'SIGKILL');
      }
      live.delete(pid);
      unmountUnder(dir);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    })());

  try {
    const env = { DOCKER_HOST: host };
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`dockerd exited early (${child.exitCode ?? child.signalCode})\n${await logTail(logPath)}`);
      }
      const probe = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env, allowFail: true, timeoutMs: 10_000 }).catch(
        () => undefined,
      );
      if (probe?.code === 0) break;
      if (Date.now() > deadline) {
        throw new Error(`dockerd not ready after ${READY_TIMEOUT_MS} ms: ${probe?.stderr.trim() ?? ''}\n${await logTail(logPath)}`);
      }
      await sleep(200);
    }
    const containerdAddress = await findContainerdSocket(execRoot);
    if (containerdAddress === undefined) {
      throw new Error(`no containerd.sock under ${execRoot}\n${await logTail(logPath)}`);
    }
    if (missingTools('ctr').length === 0) {
      await run('ctr', ['--address', containerdAddress, 'version'], { timeoutMs: 15_000 });
    }
    return { host, containerdAddress, env, pid, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
