import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BERTH_BIN, startBerth, type TestBerth } from "../helpers/berth.js";
import { run } from "../helpers/tools.js";

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const ADMIN = basic("admin", "admin-password");

describe("management: the /api/v1 API and the berth CLI", () => {
  let b: TestBerth;
  before(async () => {
    b = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" });
  });
  after(() => b.stop());

  const api = (method: string, path: string, auth?: string, body?: unknown) =>
    fetch(`${b.url}/api/v1/${path}`, {
      method,
      headers: { ...(auth ? { Authorization: auth } : {}), "Content-Type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const cli = (args: string[], input?: string) =>
    run(process.execPath, [BERTH_BIN, ...args, "--data", b.data], { env: b.env, allowFail: true, timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });
  const login = async (user: string, password: string) => (await fetch(`${b.url}/token?service=berth`, { headers: { Authorization: basic(user, password) } })).status;

  it("answers 401 without credentials and 403 to users who are not admins", async () => {
    assert.equal((await api("GET", "users")).status, 401);
    assert.equal((await api("POST", "users", ADMIN, { name: "rita", password: "rita-password" })).status, 201);
    assert.equal((await api("GET", "users", basic("rita", "rita-password"))).status, 403);
  });

  it("answers 400 INVALID to a body that is not a JSON object (null, an array, a string, not JSON), and changes nothing", async () => {
    const send = (method: string, path: string, body: string) =>
      fetch(`${b.url}/api/v1/${path}`, { method, headers: { Authorization: ADMIN, "Content-Type": "application/json" }, body });
    for (const [method, path] of [["POST", "users"], ["POST", "tokens"], ["PUT", "namespaces/team"], ["PUT", "users/admin/password"]] as const) {
      for (const body of ["null", "[]", '"rita"', "7", "{"]) {
        const res = await send(method, path, body);
        assert.equal(res.status, 400, `${method} ${path} ${body}`);
        assert.match(await res.text(), /"INVALID".*the body must be (a JSON object|JSON)/, `${method} ${path} ${body}`);
      }
    }
    const users = (await (await api("GET", "users", ADMIN)).json()) as { name: string }[];
    assert.deepEqual(users.map((u) => u.name), ["admin", "rita"]);
  });

  it("manages users, tokens, namespaces, members and visibility, and audits each change", async () => {
    assert.equal((await api("POST", "users", ADMIN, { name: "rita", password: "another-one" })).status, 409);
    assert.equal((await api("POST", "users", ADMIN, { name: "Bad Name", password: "whatever-1" })).status, 400);
    const users = (await (await api("GET", "users", ADMIN)).json()) as { name: string }[];
    assert.deepEqual(users.map((u) => u.name), ["admin", "rita"]);

    assert.equal((await api("PUT", "namespaces/team", ADMIN, { visibility: "private", owner: "rita" })).status, 200);
    const created = await api("POST", "tokens", ADMIN, { user: "rita", name: "ci", scopes: ["repository:team/*:pull,push"] });
    assert.equal(created.status, 201);
    const { token } = (await created.json()) as { token: string };
    assert.equal(await login("rita", token), 200);
    const listed = (await (await api("GET", "tokens?user=rita", ADMIN)).json()) as Record<string, unknown>[];
    assert.equal(listed.length, 1);
    assert.ok(!JSON.stringify(listed).includes("scrypt") && !JSON.stringify(listed).includes(token), "no secret or hash is listed");
    assert.equal((await api("DELETE", "tokens/rita/ci", ADMIN)).status, 200);
    assert.equal(await login("rita", token), 401, "a revoked token stops working");

    assert.equal((await api("POST", "users", ADMIN, { name: "will", password: "will-password" })).status, 201);
    assert.equal((await api("PUT", "namespaces/team/members/will", ADMIN, { role: "writer" })).status, 200);
    assert.equal((await api("PUT", "namespaces/team/members/will", ADMIN, { role: "boss" })).status, 400);
    const members = (await (await api("GET", "namespaces/team/members", ADMIN)).json()) as { user: string; role: string }[];
    assert.deepEqual(members.find((m) => m.user === "will"), { user: "will", role: "writer" });
    assert.equal((await api("PUT", "repositories/team/docs/visibility", ADMIN, { visibility: "public" })).status, 200);
    const anon = (await (await fetch(`${b.url}/token?service=berth&scope=repository:team/docs:pull`)).json()) as { token: string };
    assert.match(Buffer.from(anon.token.split(".")[1]!, "base64url").toString(), /team\/docs/, "anonymous pull of the now public repository");

    assert.equal((await api("PUT", "users/will/password", ADMIN, { password: "new-password" })).status, 200);
    assert.equal(await login("will", "will-password"), 401);
    assert.equal(await login("will", "new-password"), 200);
    assert.equal((await api("DELETE", "users/will", ADMIN)).status, 200);
    assert.equal(await login("will", "new-password"), 401);

    const audit = (await (await api("GET", "audit?user=admin&action=policy.change", ADMIN)).json()) as { action: string; actor: string }[];
    assert.ok(audit.length >= 3 && audit.every((e) => e.actor === "admin" && e.action === "policy.change"));
    assert.equal((await api("GET", "nowhere", ADMIN)).status, 404);
  });

  it("berth user, token, ns, repo and audit work on the running server's data", async () => {
    const add = await cli(["user", "add", "carol", "--password-stdin"], "carol-password\n");
    assert.equal(add.code, 0, add.stderr);
    assert.equal(await login("carol", "carol-password"), 200, "the running server sees the new user at once");
    assert.equal((await cli(["user", "add", "carol", "--password-stdin"], "carol-password\n")).code, 2);
    const short = await cli(["user", "add", "dave", "--password-stdin"], "short\n");
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 8 characters/);
    assert.match((await cli(["user", "list"])).stdout, /"name":"carol"/);

    assert.equal((await cli(["ns", "add", "lab", "--owner", "carol"])).code, 0);
    const created = await cli(["token", "create", "--name", "deploy", "--user", "carol", "--scope", "repository:lab/*:pull", "--expires", "1d"]);
    assert.equal(created.code, 0, created.stderr);
    const secret = created.stdout.trim();
    assert.match(secret, /^berth_/);
    assert.equal(await login("carol", secret), 200);
    assert.match((await cli(["token", "list", "--user", "carol"])).stdout, /"name":"deploy".*"revoked":false/);
    assert.equal((await cli(["token", "revoke", "deploy", "--user", "carol"])).code, 0);
    assert.equal(await login("carol", secret), 401);
    assert.equal((await cli(["repo", "visibility", "lab/site", "public"])).code, 0);
    assert.equal((await cli(["repo", "visibility", "lab/site", "sideways"])).code, 2);

    const audit = await cli(["audit", "--action", "token.create"]);
    assert.match(audit.stdout, /carol\/deploy/);
    const everything = (await cli(["audit", "--limit", "1000"])).stdout;
    for (const secretText of [secret, "carol-password", "admin-password"]) assert.ok(!everything.includes(secretText));
  });
});
