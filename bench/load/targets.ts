/**
 * The two servers the storm runs against, each a real process on a fresh temp directory on a free
 * loopback port: Berth (`node bin/berth.js serve`) and CNCF distribution 2.8 (`docker-registry`).
 * Each reports its upload sessions left, its log lines at error level, and how its SIGTERM went.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { spawnBerth } from "../../test/helpers/berth.js";
import { spawnDistribution } from "../servers.js";

/** How a SIGTERM went. */
export interface ShutdownResult {
  /** Milliseconds from SIGTERM to exit. */
  ms: number;
  /** Exited on its own (not SIGKILLed by us after timeout + 15 s). */
  exited: boolean;
  /** Exited within the configured shutdown timeout (+1 s of slack). */
  withinTimeout: boolean;
  code: number | null;
  signal: string | null;
}

/** A running registry under test. */
export interface LoadTarget {
  name: string;
  url: string;
  pid: number;
  /** Upload sessions left on disk / in the database, by repository. */
  uploadSessions(): Promise<Map<string, number>>;
  /** Log lines at error level so far, and how many of them carry a stack trace. */
  errorLogs(): { lines: number; withStack: number; sample: string[] };
  /** SIGTERM, wait up to the shutdown timeout + 15 s, then SIGKILL; removes the temp directory. */
  shutdown(): Promise<ShutdownResult>;
}

export function timeExit(child: import("node:child_process").ChildProcess, timeoutMs: number): Promise<ShutdownResult> {
  const start = Date.now();
  return new Promise((resolve) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, timeoutMs + 15_000);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - start;
      resolve({ ms, exited: !killed, withinTimeout: !killed && ms <= timeoutMs + 1000, code, signal });
    });
    child.kill("SIGTERM");
  });
}

export function countErrors(output: string[], isError: (line: string) => boolean) {
  const errors = output.filter(isError);
  return { lines: errors.length, withStack: errors.filter((l) => /\bat .+:\d+:\d+/.test(l) || l.includes('"stack"')).length, sample: errors.slice(0, 3) };
}

export async function startBerthTarget(shutdownTimeoutMs: number, env: Record<string, string> = {}): Promise<LoadTarget> {
  const data = await mkdtemp(join(tmpdir(), "load-berth-"));
  const berth = await spawnBerth(data, {
    BERTH_LOG_LEVEL: "warn",
    BERTH_FSYNC: "false",
    BERTH_SHUTDOWN_TIMEOUT: `${shutdownTimeoutMs}ms`,
    // As the Docker image and the systemd unit run it (docs/configuration.md, "Node.js memory settings").
    MALLOC_ARENA_MAX: "2",
    MALLOC_TRIM_THRESHOLD_: "131072",
    ...env,
  });
  return {
    name: "berth",
    url: berth.url,
    pid: berth.child.pid!,
    async uploadSessions() {
      const out = new Map<string, number>();
      const db = new Database(join(data, "berth.db"), { readonly: true, fileMustExist: true });
      try {
        for (const row of db.prepare("SELECT repository, count(*) AS n FROM uploads GROUP BY repository").all() as { repository: string; n: number }[]) {
          out.set(row.repository, row.n);
        }
      } finally {
        db.close();
      }
      const staged = existsSync(join(data, "uploads")) ? (await readdir(join(data, "uploads"))).length : 0;
      if (staged) out.set("(staged files, any repository)", staged);
      return out;
    },
    errorLogs: () => countErrors(berth.output, (l) => /"level":("error"|50)/.test(l)),
    async shutdown() {
      const result = await timeExit(berth.child, shutdownTimeoutMs);
      await rm(data, { recursive: true, force: true });
      return result;
    },
  };
}

export async function startDistributionTarget(shutdownTimeoutMs: number): Promise<LoadTarget> {
  const { child, url, dir, root, output } = await spawnDistribution({
    logLevel: "warn",
    log: ["  formatter: text"],
    storage: ["  maintenance:", "    uploadpurging:", "      enabled: false"],
    http: [`  draintimeout: ${Math.ceil(shutdownTimeoutMs / 1000)}s`],
  });
  const repos = join(root, "docker/registry/v2/repositories");
  return {
    name: "distribution",
    url,
    pid: child.pid!,
    async uploadSessions() {
      const out = new Map<string, number>();
      const walk = async (rel: string): Promise<void> => {
        const entries = await readdir(join(repos, rel), { withFileTypes: true }).catch(() => []);
        for (const e of entries) {
          if (!e.isDirectory()) continue;
          if (e.name === "_uploads") {
            const n = (await readdir(join(repos, rel, e.name))).length;
            if (n) out.set(rel, n);
          } else if (!e.name.startsWith("_")) {
            await walk(rel ? `${rel}/${e.name}` : e.name);
          }
        }
      };
      await walk("");
      return out;
    },
    errorLogs: () => countErrors(output, (l) => /level=(error|fatal|panic)/.test(l)),
    async shutdown() {
      const result = await timeExit(child, shutdownTimeoutMs);
      await rm(dir, { recursive: true, force: true });
      return result;
    },
  };
}
