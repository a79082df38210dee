import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, closeSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * Store servers of a test's own, which it may stall (SIGSTOP), resume (SIGCONT), kill and restart
 * without touching the engines other suites share: a PostgreSQL cluster started with
 * scripts/postgres.sh, and a second radosgw gateway on the Ceph cluster test-with-services.sh
 * started (BERTH_TEST_CEPH_DIR). Only the PIDs these helpers started are ever signalled.
 */
export interface StoreServer {
  /** SIGSTOP: the server keeps its port and connections but answers nothing. */
  freeze(): void;
  /** SIGCONT after freeze. */
  thaw(): void;
  /** Gone (stopped, not crashed): connections refused until restart(). */
  kill(): Promise<void>;
  /** Back on the same port after kill(). */
  restart(): Promise<void>;
  /** Thawed and stopped for good (for `after`). */
  stop(): Promise<void>;
}

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL("../../../scripts/", import.meta.url));

function pgBin(): string | undefined {
  if (!existsSync("/usr/lib/postgresql")) return undefined;
  const versions = readdirSync("/usr/lib/postgresql").filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`));
  versions.sort((a, b) => Number(a) - Number(b));
  return versions.length > 0 ? `/usr/lib/postgresql/${versions.at(-1)}/bin` : undefined;
}

function missing(what: string): string {
  const message = `needs ${what} (run under scripts/test-with-services.sh after scripts/install-test-deps.sh)`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${message}`);
  return message;
}

/** For `describe(..., { skip })`: false when the test can start its own PostgreSQL and radosgw. */
export function skipUnlessOwnStores(): false | string {
  if (!pgBin()) return missing("PostgreSQL installed");
  if (!process.env.BERTH_TEST_CEPH_DIR || !process.env.BERTH_TEST_S3_ACCESS_KEY) return missing("the test Ceph cluster (BERTH_TEST_CEPH_DIR)");
  return false;
}

const signal = (pids: number[], sig: NodeJS.Signals) => {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already: nothing to stop or resume
    }
  }
};

/** A PostgreSQL cluster of the test's own (role and database `berth`), on a free loopback port. */
export async function startOwnPostgres(): Promise<StoreServer & { url: string }> {
  const bin = pgBin()!;
  const dir = await mkdtemp("/tmp/berth-pg-outage.");
  await run("bash", [join(SCRIPTS, "postgres.sh"), "start", dir]);
  const url = /BERTH_TEST_DATABASE_URL=(\S+)/.exec(readFileSync(join(dir, "env"), "utf8"))![1]!;
  const port = new URL(url).port;
  // initdb refuses root, so the script runs the server as the postgres user; pg_ctl must too.
  const asPg = (args: string[]) => (process.getuid?.() === 0 ? run("runuser", ["-u", "postgres", "--", `${bin}/pg_ctl`, ...args]) : run(`${bin}/pg_ctl`, args));
  // The postmaster and its children (each backend in a session of its own): read while stopped, so none is forked meanwhile.
  let frozen: number[] = [];
  const postmaster = () => Number(readFileSync(join(dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  const children = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  const server: StoreServer & { url: string } = {
    url,
    freeze() {
      const pid = postmaster();
      signal([pid], "SIGSTOP");
      frozen = [pid, ...children(pid)];
      signal(frozen, "SIGSTOP");
    },
    thaw() {
      signal(frozen, "SIGCONT");
      frozen = [];
    },
    async kill() {
      await asPg(["-D", join(dir, "data"), "-m", "immediate", "-w", "stop"]);
    },
    async restart() {
      await asPg(["-D", join(dir, "data"), "-l", join(dir, "server.log"), "-w", "-o", `-p ${port}`, "start"]);
    },
    async stop() {
      server.thaw();
      await run("bash", [join(SCRIPTS, "postgres.sh"), "stop", dir]);
    },
  };
  return server;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A radosgw gateway of the test's own on the shared test Ceph cluster (same S3 user and
 * buckets as BERTH_TEST_S3_ENDPOINT), with its own port, admin socket and log.
 */
export async function startOwnRadosgw(): Promise<StoreServer & { endpoint: string }> {
  const ceph = process.env.BERTH_TEST_CEPH_DIR!;
  const dir = await mkdtemp("/tmp/berth-rgw-outage.");
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const launch = async () => {
    const log = openSync(join(dir, "out"), "a");
    child = spawn(
      "radosgw",
      ["-n", "client.rgw.a", "-f", "-c", join(ceph, "ceph.conf"), "--rgw-frontends", `beast endpoint=127.0.0.1:${port}`,
        "--admin-socket", join(dir, "asok"), "--log-file", join(dir, "log")],
      { detached: true, stdio: ["ignore", log, log] },
    );
    closeSync(log);
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`radosgw exited with ${child.exitCode}: ${readFileSync(join(dir, "out"), "utf8")}`);
      if (await fetch(endpoint, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false)) return;
      if (Date.now() - started > 20_000) throw new Error("radosgw did not answer within 20 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  // TERM, not KILL: a gateway that dies without unwatching its cluster's notify objects stalls
  // every bucket create and delete on the other gateway (other suites') for ~30 s.
  const killChild = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once("exit", resolve));
    c.kill("SIGCONT");
    c.kill("SIGTERM");
    const late = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(late);
  };
  await launch();
  return {
    endpoint,
    freeze: () => void child?.kill("SIGSTOP"),
    thaw: () => void child?.kill("SIGCONT"),
    kill: killChild,
    restart: launch,
    async stop() {
      await killChild();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
