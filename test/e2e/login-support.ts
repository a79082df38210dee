/**
 * Plumbing for the access-control tests with real clients (login*.test.ts): a `berth serve` with
 * auth on, set up through the `berth` CLI the way an operator would (users alice and rita, the
 * private namespace `team` owned by alice with rita as reader, the public namespace `oss`, and a
 * robot token of alice's for team/*), plus the audit-log check every client's suite ends with.
 */
import { readFile } from "node:fs/promises";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { BERTH_BIN, spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { run, type RunResult } from "../helpers/tools.js";
import { MANIFEST_ACCEPT, requestLog, showRequests, type LoggedRequest } from "./support.js";

const suffix = randomBytes(6).toString("hex");
/** Passwords differ per run, so that finding one in a log means it leaked. */
export const PASSWORDS = {
  admin: `admin-pw-${suffix}`,
  alice: `alice-pw-${suffix}`,
  rita: `rita-pw-${suffix}`,
  /** What a user types by mistake. */
  wrong: `not-the-pw-${suffix}`,
} as const;

export interface AuthBerth {
  proc: BerthProcess;
  /** `127.0.0.1:PORT` */
  host: string;
  url: string;
  data: string;
  /** alice's robot token `ci`, scoped to repository:team/*:pull,push. */
  robot: string;
}

/** Runs `node bin/berth.js ARGS --data DATA`, with `input` on stdin; rejects on a non-zero exit. */
export function berthCli(data: string, args: string[], input?: string): Promise<RunResult> {
  return run(process.execPath, [BERTH_BIN, ...args, "--data", data], { timeoutMs: 30_000, ...(input === undefined ? {} : { input }) });
}

/** Starts `berth serve` with access control on under `root`/data and sets up users, namespaces and the robot token. */
export async function startAuthBerth(root: string): Promise<AuthBerth> {
  const data = join(root, "data");
  const proc = await spawnBerth(data, { BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: PASSWORDS.admin });
  try {
    await berthCli(data, ["user", "add", "alice", "--password-stdin"], `${PASSWORDS.alice}\n`);
    await berthCli(data, ["user", "add", "rita", "--password-stdin"], `${PASSWORDS.rita}\n`);
    await berthCli(data, ["ns", "add", "team", "--owner", "alice"]);
    await berthCli(data, ["ns", "add", "oss", "--owner", "alice", "--public"]);
    await berthCli(data, ["ns", "member", "add", "team", "rita", "--role", "reader"]);
    const created = await berthCli(data, ["token", "create", "--name", "ci", "--user", "alice", "--scope", "repository:team/*:pull,push"]);
    const robot = created.stdout.trim();
    assert.match(robot, /^berth_[A-Za-z0-9]{12}_\S{20,}$/, `token create printed the secret: ${created.stdout}`);
    return { proc, host: proc.host, url: proc.url, data, robot };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** Berth's access log from `from` on (an index into requestLog). */
export function requestsSince(b: AuthBerth, from: number): LoggedRequest[] {
  return requestLog(b.proc).slice(from);
}

/** Waits a moment for the access log lines of the last requests to arrive, then returns them. */
export async function settledRequestsSince(b: AuthBerth, from: number): Promise<LoggedRequest[]> {
  // Log lines arrive over the child's stdout after the client is done: wait until they stop coming
  // (a fixed pause was too short on a loaded machine).
  let seen = -1;
  for (let waited = 0; waited < 5000; waited += 150) {
    await new Promise((r) => setTimeout(r, 150));
    const now = requestsSince(b, from).length;
    if (now === seen) break;
    seen = now;
  }
  return requestsSince(b, from);
}

/** Asserts that none of `requests` wrote anything: no upload started or finished, no manifest stored. */
export function assertNothingWritten(requests: LoggedRequest[], what: string): void {
  const writes = requests.filter((r) => ["POST", "PATCH", "PUT", "DELETE"].includes(r.method) && !r.path.startsWith("/token") && r.status < 400);
  assert.deepEqual(writes, [], `${what}: Berth accepted writes:\n${showRequests(requests)}`);
}

/** A client's refusal as it printed it, on one line: the last lines of its stderr that say why. */
export function clientSays(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /denied|unauthori[sz]ed|invalid|forbidden|401|403|insufficient|error/i.test(l));
  return lines.slice(-3).join(" | ") || stderr.trim().split("\n").slice(-2).join(" | ");
}

/** A push that Berth refused: at least one 403, and nothing written. */
export function assertPushDenied(requests: LoggedRequest[], what: string): void {
  assertNothingWritten(requests, what);
  assert.ok(requests.some((r) => r.status === 403), `${what}: Berth answered 403 DENIED:\n${showRequests(requests)}`);
}

/** A bearer token from /token for `scope`, logging in as `user` (Basic). */
export async function tokenFor(b: AuthBerth, user: string, password: string, scope: string): Promise<string> {
  const res = await fetch(`${b.url}/token?service=berth&scope=${encodeURIComponent(scope)}`, {
    headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` },
  });
  const body = (await res.json()) as { token?: string };
  assert.equal(res.status, 200, `token for ${user}: ${JSON.stringify(body)}`);
  assert.ok(body.token);
  return body.token;
}

/** Ground truth, as admin: the tags of a repository ([] when it does not exist). */
export async function tagsAsAdmin(b: AuthBerth, repo: string): Promise<string[]> {
  const token = await tokenFor(b, "admin", PASSWORDS.admin, `repository:${repo}:pull`);
  const res = await fetch(`${b.url}/v2/${repo}/tags/list`, { headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 404) return [];
  assert.equal(res.status, 200, `tags of ${repo}`);
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

/** Ground truth, as admin: the manifest digest Berth serves for repo:reference. */
export async function digestAsAdmin(b: AuthBerth, repo: string, reference: string): Promise<string> {
  const token = await tokenFor(b, "admin", PASSWORDS.admin, `repository:${repo}:pull`);
  const res = await fetch(`${b.url}/v2/${repo}/manifests/${reference}`, {
    method: "HEAD",
    headers: { Authorization: `Bearer ${token}`, Accept: MANIFEST_ACCEPT },
  });
  assert.equal(res.status, 200, `HEAD ${repo}:${reference} as admin`);
  const digest = res.headers.get("docker-content-digest");
  assert.ok(digest);
  return digest;
}

interface AuditEvent {
  time: string;
  actor?: string;
  action: string;
  result: string;
  source?: string;
  detail?: Record<string, unknown>;
}

/**
 * `berth audit --action login` while the server runs: it lists a successful login of each of
 * `ok` and a failed one of each of `failed` (actors as Berth names them: `alice`,
 * `token:alice/ci`), and neither it, the whole audit log, nor Berth's own output contains a
 * password, the robot token or any of `moreSecrets`.
 */
export async function assertAuditOfLogins(b: AuthBerth, ok: string[], failed: string[], moreSecrets: string[] = []): Promise<void> {
  const logins = await berthCli(b.data, ["audit", "--action", "login", "--limit", "10000"]);
  const events = logins.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent);
  assert.ok(events.every((e) => e.action === "login"), "--action login lists only logins");
  const summary = events.map((e) => `${e.actor}:${e.result}`);
  for (const actor of ok) {
    assert.ok(events.some((e) => e.actor === actor && e.result === "ok"), `a successful login of ${actor} is listed:\n${[...new Set(summary)].join("\n")}`);
  }
  for (const actor of failed) {
    const event = events.find((e) => e.actor === actor && e.result === "failed");
    assert.ok(event, `a failed login of ${actor} is listed:\n${[...new Set(summary)].join("\n")}`);
    assert.equal(event.source, "127.0.0.1", "the failed login names where it came from");
  }
  const everything = await berthCli(b.data, ["audit", "--limit", "100000"]);
  const robotSecret = b.robot.slice("berth_".length + 13);
  const secrets = [...Object.values(PASSWORDS), b.robot, robotSecret, ...moreSecrets];
  const places: [string, string][] = [
    ["berth audit --action login", logins.stdout + logins.stderr],
    ["berth audit", everything.stdout + everything.stderr],
    ["berth serve's output", b.proc.output.join("\n")],
  ];
  for (const [where, text] of places) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `${where} contains a secret (${secret.slice(0, 10)}…)`);
  }
}
export const EMPTY_AUTH = JSON.stringify({ auths: {} });

/** The credentials a containers auth file (or Docker config.json) holds for `host`, decoded. */
export async function storedAuth(file: string, host: string): Promise<{ user?: string; password?: string; identitytoken?: string } | undefined> {
  const auths = (JSON.parse(await readFile(file, "utf8")) as { auths?: Record<string, { auth?: string; identitytoken?: string }> }).auths ?? {};
  const entry = auths[host];
  if (!entry) return undefined;
  const decoded = entry.auth ? Buffer.from(entry.auth, "base64").toString("utf8") : "";
  const colon = decoded.indexOf(":");
  return {
    ...(colon >= 0 ? { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : {}),
    ...(entry.identitytoken ? { identitytoken: entry.identitytoken } : {}),
  };
}

