/**
 * CNCF distribution 2.8 (Debian's `docker-registry`) as the storage behind the upstream fixture: its own
 * config in a temp dir, filesystem storage, token auth or none, and its access log parsed.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, whichSync } from "./tools.js";

/** One line of distribution's access log (Apache combined format). */
export interface DistributionAccess {
  method: string;
  /** Path and query, as distribution logged it. */
  uri: string;
  status: number;
  /** Response body bytes distribution wrote. */
  bytes: number;
  line: string;
}

/** Token auth settings for distribution's `auth.token` section. */
export interface DistributionTokenAuth {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
}

/** Basic authentication from an htpasswd file (bcrypt hashes): a registry that never hands out tokens. */
export interface DistributionBasicAuth {
  htpasswd: string;
  realm: string;
}

/** A running distribution. */
export interface Distribution {
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  pid: number;
  /** Access-log entries so far (without the fixture's own flush probes). */
  accessLog(): DistributionAccess[];
  clearAccessLog(): void;
  /** Waits until lines for requests already answered have been read from distribution's output. */
  flush(): Promise<void>;
  /** Process output other than access-log lines, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

const ACCESS = /^\S+ - \S+ \[[^\]]+\] "(\S+) (\S+) [^"]*" (\d{3}) (\d+|-) /;
const FLUSH = "upstream-fixture-flush=";

function config(dir: string, port: number, auth: DistributionTokenAuth | DistributionBasicAuth | undefined): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  formatter: text",
    "  accesslog:",
    "    disabled: false",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(dir, "data")}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "  secret: berth-upstream-fixture",
  ];
  if (auth && "htpasswd" in auth) {
    lines.push("auth:", "  htpasswd:", `    realm: ${auth.realm}`, `    path: ${auth.htpasswd}`);
  } else if (auth) {
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${auth.realm}`,
      `    service: ${auth.service}`,
      `    issuer: ${auth.issuer}`,
      `    rootcertbundle: ${auth.certPath}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Starts distribution on a free loopback port with its config and storage under `dir`. */
export async function startDistribution(dir: string, auth?: DistributionTokenAuth | DistributionBasicAuth): Promise<Distribution> {
  const bin = whichSync("docker-registry") ?? "/usr/bin/docker-registry";
  const port = await freePort();
  const configPath = join(dir, "distribution.yml");
  await writeFile(configPath, config(dir, port, auth));
  const env = { ...process.env };
  // the S3 test engines' settings are not distribution's (bench/servers.ts drops this one too)
  delete env.AWS_CA_BUNDLE;
  const child = spawn(bin, ["serve", configPath], { env, stdio: ["ignore", "pipe", "pipe"] });
  const access: DistributionAccess[] = [];
  const other: string[] = [];
  let flushes = 0;
  let seen = 0;
  let partial = "";
  const onData = (b: Buffer) => {
    const text = partial + b.toString("utf8");
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const m = ACCESS.exec(line);
      if (!m) {
        if (line.trim()) other.push(line);
        continue;
      }
      const uri = m[2]!;
      const at = uri.indexOf(FLUSH);
      if (at >= 0) {
        seen = Math.max(seen, Number(uri.slice(at + FLUSH.length)));
        continue;
      }
      access.push({ method: m[1]!, uri, status: Number(m[3]), bytes: m[4] === "-" ? 0 : Number(m[4]), line });
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const host = `127.0.0.1:${port}`;

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}:\n${other.join("\n")}`);
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry did not answer GET /v2/ in 20 s:\n${other.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  access.length = 0;

  return {
    host,
    port,
    pid: child.pid!,
    accessLog: () => [...access],
    clearAccessLog() {
      access.length = 0;
    },
    async flush() {
      // distribution logs a request after its handler returns; a probe sent after the client saw the
      // end of a response is logged after it, and lines arrive in order on the one pipe
      const n = ++flushes;
      const res = await fetch(`http://${host}/v2/?${FLUSH}${n}`);
      await res.arrayBuffer();
      const until = Date.now() + 5000;
      while (seen < n) {
        if (Date.now() > until) throw new Error("distribution's access log did not show the flush probe within 5 s");
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    output: () => other.join("\n"),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, "SIGTERM");
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL");
        }, 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
