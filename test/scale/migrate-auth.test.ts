import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { stringify } from "yaml";
import { newRobotToken } from "../../src/auth/credentials.js";
import { hashSecret } from "../../src/auth/passwords.js";
import type { AuditEvent, AuthStore } from "../../src/storage/auth-store.js";
import { createPostgresAuthStore } from "../../src/storage/drivers/postgres-auth-store.js";
import { createSqliteAuthStore } from "../../src/storage/drivers/sqlite-auth-store.js";
import { BERTH_BIN, scaleOutEnv, spawnBerth, type BerthProcess, configFromEnv } from "../helpers/berth.js";
import { makeImage } from "../helpers/fixtures.js";
import { pushImage, withClient } from "../helpers/push.js";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";
import { run, skipUnlessTools } from "../helpers/tools.js";

const AUTH_ON = { BERTH_AUTH: "on" };
const ADMIN_PASSWORD = "admin-password-1";
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const kidOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
const grantedOf = (jwt: string) =>
  (JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as { access: { name: string; actions: string[] }[] }).access;


/** GET /token with optional Basic credentials; the token (or undefined) and the whole answer. */
async function getToken(url: string, auth: string | undefined, ...scopes: string[]): Promise<{ status: number; token?: string; body: Record<string, unknown> }> {
  const q = new URLSearchParams({ service: "berth" });
  for (const s of scopes) q.append("scope", s);
  const res = await fetch(`${url}/token?${q}`, { headers: auth ? { Authorization: auth } : {} });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body, ...(typeof body.token === "string" ? { token: body.token } : {}) };
}

async function bearer(url: string, auth: string | undefined, ...scopes: string[]): Promise<string> {
  const got = await getToken(url, auth, ...scopes);
  assert.equal(got.status, 200, JSON.stringify(got.body));
  return got.token!;
}

const pullStatus = async (url: string, token: string | undefined, repo: string, ref = "v1") =>
  (await fetch(`${url}/v2/${repo}/manifests/${ref}`, { headers: token ? { Authorization: `Bearer ${token}`, Accept: "application/vnd.oci.image.manifest.v1+json" } : {} })).status;

/** Everything an AuthStore holds, in a form two stores can be compared by. */
async function snapshot(store: AuthStore) {
  const namespaces = await store.listNamespaces();
  return {
    users: await store.listUsers(),
    tokens: await store.listTokens(),
    namespaces,
    members: await Promise.all(namespaces.map(async (n) => ({ ns: n.name, members: await store.listMembers(n.name) }))),
    visibilities: await store.listRepositoryVisibilities(),
    refreshTokens: await store.listRefreshTokens(),
    keys: await store.listSigningKeys(),
    audit: await store.exportAudit(undefined, 1_000_000_000),
  };
}

describe("berth migrate with access control", { skip: skipUnlessS3() || skipUnlessPostgres() }, () => {
  let dir: string;
  let source: string;
  const cleanups: (() => Promise<void>)[] = [];
  const image = makeImage({ layers: [randomBytes(300_000)] });
  const pubImage = makeImage({ layers: [randomBytes(1000)] });
  let robot: string;
  let refreshToken: string;
  /** Issued by the source before the signing key was rotated (signed by the now retired key), and after. */
  let jwtOldKey: string;
  let jwtNewKey: string;
  const repeated: AuditEvent = { time: 1_600_000_000_000, actor: "alice", action: "pull", repository: "team/app", target: "v1", result: "ok" };
  const FILLER = 30_000;
  let scaleDatabase: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-migrate-auth-"));
    source = join(dir, "embedded");
    let berth = await spawnBerth(source, { ...AUTH_ON, BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD });
    const store = createSqliteAuthStore({ path: join(source, "auth.db") });
    try {
      for (const name of ["alice", "bob"]) {
        await store.createUser({ name, passwordHash: await hashSecret(`${name}-password`), admin: false, createdAt: Date.now() });
      }
      await store.putNamespace({ name: "team", visibility: "private", owner: "alice", createdAt: Date.now() });
      await store.setMember("team", "alice", "writer");
      await store.setMember("team", "bob", "reader");
      await store.setRepositoryVisibility("team/pub", "public");
      const t = await newRobotToken();
      await store.createToken({ id: t.id, name: "ci", owner: "alice", secretHash: t.secretHash, scopes: ["repository:team/*:pull"], createdAt: Date.now() });
      robot = t.secret;
      const old = await newRobotToken();
      await store.createToken({ id: old.id, name: "old", owner: "bob", secretHash: old.secretHash, scopes: ["repository:team/*:pull"], createdAt: 1, revokedAt: 2 });
      // The same event twice (a legitimate duplicate) must arrive twice, never three or four times.
      await store.importAudit([repeated, repeated]);
      const filler = Array.from({ length: FILLER }, (_, i): AuditEvent => ({ time: 1_500_000_000_000 + i, action: "pull", repository: "team/app", result: "ok", actor: `user${i % 7}` }));
      await store.importAudit(filler);

      await withClient(berth.url, async (admin) => {
        await pushImage(admin, "team/app", "v1", image);
        await pushImage(admin, "team/pub", "v1", pubImage);
        // An empty repository: it exists (its blob was pushed, then deleted), with nothing in it.
        await admin.deleteBlob("team/empty", await admin.pushBlob("team/empty", randomBytes(100)));
      }, { username: "admin", password: ADMIN_PASSWORD });

      jwtOldKey = await bearer(berth.url, basic("alice", "alice-password"), "repository:team/app:pull");
      const q = new URLSearchParams({ service: "berth", offline_token: "true", client_id: "test" });
      const withRefresh = (await (await fetch(`${berth.url}/token?${q}`, { headers: { Authorization: basic("alice", "alice-password") } })).json()) as { refresh_token: string };
      refreshToken = withRefresh.refresh_token;
    } finally {
      await store.close();
      await berth.stop();
    }
    const rotated = await run(process.execPath, [BERTH_BIN, "key", "rotate", "--data", source], { env: AUTH_ON });
    assert.match(rotated.stdout, /new signing key/);
    berth = await spawnBerth(source, AUTH_ON);
    try {
      jwtNewKey = await bearer(berth.url, basic("bob", "bob-password"), "repository:team/app:pull");
      assert.notEqual(kidOf(jwtNewKey), kidOf(jwtOldKey), "the source has a retired key and a current one");
    } finally {
      await berth.stop();
    }
    await writeFile(join(dir, "embedded.yaml"), stringify(configFromEnv({}, source)));
  });
  after(async () => {
    for (const c of cleanups) await c();
    await rm(dir, { recursive: true, force: true });
  });

  const migrate = (from: string, to: string) =>
    run(process.execPath, [BERTH_BIN, "migrate", "--from", join(dir, from), "--to", join(dir, to)], { allowFail: true, timeoutMs: 300_000 });
  type Report = {
    problems: string[];
    blobsCopied: number;
    manifests: number;
    accessControl?: { written: Record<string, number>; present: Record<string, number>; replaced: string[]; targetOnly: string[] };
  };
  const sourceSnapshot = async () => {
    const store = createSqliteAuthStore({ path: join(source, "auth.db") });
    try {
      return await snapshot(store);
    } finally {
      await store.close();
    }
  };
  async function withPostgres<T>(url: string, fn: (store: AuthStore) => Promise<T>): Promise<T> {
    const store = await createPostgresAuthStore({ url });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }

  /** What a user of the target sees: logins, tokens issued by the source, visibility, roles, the empty repository. */
  async function assertAccessWorks(berth: BerthProcess): Promise<void> {
    const { url } = berth;
    assert.equal(await pullStatus(url, await bearer(url, basic("admin", ADMIN_PASSWORD), "repository:team/app:pull"), "team/app"), 200, "the admin's password");
    const alice = await bearer(url, basic("alice", "alice-password"), "repository:team/app:pull,push");
    assert.equal(await pullStatus(url, alice, "team/app"), 200, "alice's password");
    assert.deepEqual(grantedOf(alice), [{ type: "repository", name: "team/app", actions: ["pull", "push"] }], "alice is still a writer of team");
    const bob = await bearer(url, basic("bob", "bob-password"), "repository:team/app:pull,push");
    assert.deepEqual(grantedOf(bob).map((a) => a.actions), [["pull"]], "bob is still a reader of team");
    assert.equal((await getToken(url, basic("alice", "wrong-password"), "repository:team/app:pull")).status, 401);

    const ci = await bearer(url, basic("alice", robot), "repository:team/app:pull");
    assert.equal(await pullStatus(url, ci, "team/app"), 200, "the robot token, by its secret");
    const refreshed = await fetch(`${url}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, service: "berth", scope: "repository:team/app:pull" }).toString(),
    });
    assert.equal(refreshed.status, 200, "the refresh token issued by the source");
    assert.equal(await pullStatus(url, jwtOldKey, "team/app"), 200, "a JWT signed by the source's retired key verifies");
    assert.equal(await pullStatus(url, jwtNewKey, "team/app"), 200, "a JWT signed by the source's current key verifies");

    const anonymous = await bearer(url, undefined, "repository:team/pub:pull", "repository:team/app:pull");
    assert.equal(await pullStatus(url, anonymous, "team/pub"), 200, "anonymous pulls the public repository");
    assert.equal(await pullStatus(url, undefined, "team/app"), 401);
    assert.notEqual(await pullStatus(url, anonymous, "team/app"), 200, "and not the private one");

    const admin = await bearer(url, basic("admin", ADMIN_PASSWORD), "repository:team/empty:pull");
    const tags = await fetch(`${url}/v2/team/empty/tags/list`, { headers: { Authorization: `Bearer ${admin}` } });
    assert.equal(tags.status, 200, "the empty repository exists");
    assert.deepEqual(((await tags.json()) as { tags: string[] | null }).tags ?? [], []);
  }

  it("copies access control to S3 + PostgreSQL, resumes after a kill mid-way, and a rerun changes nothing", async (t) => {
    const backend = await scaleOutEnv();
    cleanups.push(backend.cleanup);
    const env = backend.env;
    scaleDatabase = env.BERTH_DATABASE_URL!;
    await writeFile(join(dir, "scale.yaml"), stringify(configFromEnv(env, join(dir, "scale"))));
    const expected = await sourceSnapshot();

    // Kill a first run once the audit log has started arriving, well before all of it has.
    const child = spawn(process.execPath, [BERTH_BIN, "migrate", "--from", join(dir, "embedded.yaml"), "--to", join(dir, "scale.yaml")], { stdio: "ignore" });
    const exited = new Promise((r) => child.once("exit", r));
    const db = new pg.Client({ connectionString: env.BERTH_DATABASE_URL });
    await db.connect();
    let copied = 0;
    try {
      for (let i = 0; i < 6000 && child.exitCode === null; i++) {
        const found = await db.query<{ n: string }>("SELECT count(*) AS n FROM audit").catch(() => ({ rows: [{ n: "0" }] }));
        copied = Number(found.rows[0]!.n);
        if (copied > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill("SIGKILL");
      await exited;
      copied = Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM audit")).rows[0]!.n);
    } finally {
      await db.end();
    }
    assert.ok(copied > 0 && copied < expected.audit.length, `the first run was interrupted with part of the audit log copied (${copied} of ${expected.audit.length})`);

    const result = await migrate("embedded.yaml", "scale.yaml");
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as Report;
    assert.deepEqual(report.problems, []);
    assert.equal(report.accessControl!.written.auditEvents, expected.audit.length - copied, "the rerun appended only what was missing");
    assert.deepEqual(report.accessControl!.targetOnly, []);
    const copy = await withPostgres(env.BERTH_DATABASE_URL!, snapshot);
    assert.deepEqual(copy, expected, "the target holds exactly the source's access control, hashes as they were");
    assert.equal(copy.audit.filter((e) => isDeepStrictEqual(e, repeated)).length, 2, "a repeated event arrives as often as it happened");

    const again = await migrate("embedded.yaml", "scale.yaml");
    assert.equal(again.code, 0, again.stderr);
    const second = JSON.parse(again.stdout) as Report;
    assert.deepEqual(Object.values(second.accessControl!.written), [0, 0, 0, 0, 0, 0, 0, 0], "a rerun on a finished target writes nothing");
    assert.deepEqual(second.accessControl!.replaced, []);
    assert.equal(second.blobsCopied + second.manifests, 0);
    assert.deepEqual(await withPostgres(env.BERTH_DATABASE_URL!, snapshot), expected, "and changes nothing");

    const berth = await spawnBerth(join(dir, "scale-node"), { ...env, ...AUTH_ON });
    try {
      await assertAccessWorks(berth);
      const skip = skipUnlessTools("skopeo");
      if (!skip) {
        const inspected = await run("skopeo", ["inspect", "--tls-verify=false", "--creds", `alice:${robot}`, `docker://${berth.host}/team/app:v1`]);
        assert.equal((JSON.parse(inspected.stdout) as { Digest: string }).Digest, image.manifestDigest, "skopeo logs in with the robot token");
        const denied = await run("skopeo", ["inspect", "--tls-verify=false", "--creds", "alice:wrong-password", `docker://${berth.host}/team/app:v1`], { allowFail: true });
        assert.notEqual(denied.code, 0);
      } else t.diagnostic(`skopeo part skipped: ${skip}`);
    } finally {
      await berth.stop();
    }
  });

  it("copies it all back from S3 + PostgreSQL to a fresh embedded registry", async () => {
    await writeFile(join(dir, "back.yaml"), stringify(configFromEnv({}, join(dir, "back"))));
    const result = await migrate("scale.yaml", "back.yaml");
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((JSON.parse(result.stdout) as Report).problems, []);
    const expected = await withPostgres(scaleDatabase, snapshot);
    const store = createSqliteAuthStore({ path: join(dir, "back", "auth.db") });
    try {
      assert.deepEqual(await snapshot(store), expected);
    } finally {
      await store.close();
    }
    const berth = await spawnBerth(join(dir, "back"), AUTH_ON);
    try {
      await assertAccessWorks(berth);
    } finally {
      await berth.stop();
    }
  });

  it("merges into a target that has access control of its own: the source wins, the target's extras stay and are listed", async () => {
    const other = join(dir, "other");
    const berth = await spawnBerth(other, { ...AUTH_ON, BERTH_ADMIN_PASSWORD: "other-admin-password" });
    let otherKid: string;
    try {
      otherKid = kidOf(await bearer(berth.url, basic("admin", "other-admin-password")));
    } finally {
      await berth.stop();
    }
    const store = createSqliteAuthStore({ path: join(other, "auth.db") });
    const rival = await newRobotToken();
    try {
      await store.createUser({ name: "zed", passwordHash: await hashSecret("zed-password"), admin: false, createdAt: Date.now() });
      await store.createUser({ name: "alice", passwordHash: await hashSecret("other-alice-password"), admin: true, createdAt: Date.now() });
      await store.createToken({ id: rival.id, name: "ci", owner: "alice", secretHash: rival.secretHash, scopes: ["repository:*:pull,push"], createdAt: Date.now() });
    } finally {
      await store.close();
    }
    await writeFile(join(dir, "other.yaml"), stringify(configFromEnv({}, other)));
    const result = await migrate("embedded.yaml", "other.yaml");
    assert.equal(result.code, 0, result.stderr);
    const access = (JSON.parse(result.stdout) as Report).accessControl!;
    assert.ok(access.replaced.includes("user admin") && access.replaced.includes("user alice"), access.replaced.join("\n"));
    assert.ok(access.replaced.some((r) => r.includes(rival.id) && r.includes("revoked")), access.replaced.join("\n"));
    assert.ok(access.targetOnly.includes("user zed") && access.targetOnly.includes(`signing key ${otherKid}`), access.targetOnly.join("\n"));
    assert.match(result.stderr, /replaced by the source's/);

    const served = await spawnBerth(other, AUTH_ON);
    try {
      assert.equal((await getToken(served.url, basic("admin", "other-admin-password"))).status, 401, "the source's admin password replaced the target's");
      await assertAccessWorks(served);
      assert.equal((await getToken(served.url, basic("zed", "zed-password"))).status, 200, "a user only the target had is kept");
      assert.equal((await getToken(served.url, basic("alice", rival.secret))).status, 401, "the target's rival token of the same name is revoked");
    } finally {
      await served.stop();
    }
    const rerun = JSON.parse((await migrate("embedded.yaml", "other.yaml")).stdout) as Report;
    assert.deepEqual(rerun.accessControl!.replaced, [], "merging is stable: a rerun replaces nothing");
  });
});
