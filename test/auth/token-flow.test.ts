import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { newRobotToken } from "../../src/auth/credentials.js";
import { hashSecret } from "../../src/auth/passwords.js";
import type { AuthStore } from "../../src/storage/auth-store.js";
import { createAuthStore } from "../../src/storage/create-stores.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage, sha256 } from "../helpers/fixtures.js";
import { asBody } from "../helpers/upload-session.js";

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("access control: the Docker token flow", () => {
  let b: TestBerth;
  let store: AuthStore;
  let robot: string;
  let pullRobot: string;

  before(async () => {
    b = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" });
    store = await createAuthStore(b.config);
    for (const name of ["rita", "will", "eve"]) {
      await store.createUser({ name, passwordHash: await hashSecret(`${name}-password`), admin: false, createdAt: Date.now() });
    }
    await store.putNamespace({ name: "team", visibility: "private", createdAt: Date.now() });
    await store.putNamespace({ name: "oss", visibility: "public", createdAt: Date.now() });
    await store.setMember("team", "rita", "reader");
    await store.setMember("team", "will", "writer");
    await store.setMember("oss", "will", "writer");
    const t = await newRobotToken();
    await store.createToken({ id: t.id, name: "ci", owner: "will", secretHash: t.secretHash, scopes: ["repository:team/*:pull,push"], createdAt: Date.now() });
    robot = t.secret;
    const p = await newRobotToken();
    await store.createToken({ id: p.id, name: "reader", owner: "will", secretHash: p.secretHash, scopes: ["repository:team/app:pull"], createdAt: Date.now() });
    pullRobot = p.secret;
  });
  after(async () => {
    await store.close();
    await b.stop();
  });

  async function token(auth: string | undefined, ...scopes: string[]): Promise<{ status: number; token?: string; body: Record<string, unknown> }> {
    const q = new URLSearchParams({ service: "berth" });
    for (const s of scopes) q.append("scope", s);
    const res = await fetch(`${b.url}/token?${q}`, { headers: auth ? { Authorization: auth } : {} });
    const body = (await res.json()) as Record<string, unknown>;
    return { status: res.status, body, ...(typeof body.token === "string" ? { token: body.token } : {}) };
  }
  const granted = (t: string) => JSON.parse(Buffer.from(t.split(".")[1]!, "base64url").toString()).access as { name: string; actions: string[] }[];

  async function push(auth: string, repo: string): Promise<number> {
    const image = makeImage({ layers: [randomBytes(1000)] });
    for (const blob of [image.config, ...image.layers]) {
      const res = await fetch(`${b.url}/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, { method: "POST", body: asBody(blob), headers: { Authorization: auth } });
      if (res.status !== 201) return res.status;
    }
    const res = await fetch(`${b.url}/v2/${repo}/manifests/v1`, {
      method: "PUT",
      headers: { Authorization: auth, "Content-Type": image.manifestMediaType },
      body: asBody(image.manifest),
    });
    return res.status;
  }

  it("GET /v2/ without credentials answers 401 with the Bearer challenge naming realm and service", async () => {
    const res = await fetch(`${b.url}/v2/`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), `Bearer realm="${b.url}/token",service="berth"`);
    assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code, "UNAUTHORIZED");
  });

  it("a repository request without credentials gets a challenge with its scope", async () => {
    const res = await fetch(`${b.url}/v2/team/app/manifests/v1`, { method: "PUT" });
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate")!, /scope="repository:team\/app:pull,push"/);
  });

  it("docker login's request (no scope, offline token) succeeds with the right password and fails with a wrong one", async () => {
    const ok = await fetch(`${b.url}/token?service=berth&offline_token=true&client_id=docker`, { headers: { Authorization: basic("admin", "admin-password") } });
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as { token: string; access_token: string; expires_in: number; issued_at: string; refresh_token: string };
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 300);
    assert.ok(body.refresh_token);
    assert.equal((await fetch(`${b.url}/v2/`, { headers: { Authorization: `Bearer ${body.token}` } })).status, 200);
    const bad = await token(basic("admin", "wrong"));
    assert.equal(bad.status, 401);
    assert.equal((await token(basic("nobody", "whatever"))).status, 401);
  });

  it("grants the intersection of what was asked and what is allowed, over several scopes at once", async () => {
    const t = await token(basic("rita", "rita-password"), "repository:team/app:pull,push", "repository:oss/lib:pull,push", "repository:other/x:pull");
    assert.equal(t.status, 200, "a partial grant is not an error");
    assert.deepEqual(granted(t.token!), [
      { type: "repository", name: "team/app", actions: ["pull"] },
      { type: "repository", name: "oss/lib", actions: ["pull"] },
    ].map(({ name, actions }) => ({ type: "repository", name, actions })));
  });

  it("a writer pushes and pulls; a reader pulls but is refused a push with 403 DENIED", async () => {
    const w = await token(basic("will", "will-password"), "repository:team/app:pull,push");
    assert.equal(await push(`Bearer ${w.token}`, "team/app"), 201);
    const r = await token(basic("rita", "rita-password"), "repository:team/app:pull,push");
    assert.equal((await fetch(`${b.url}/v2/team/app/manifests/v1`, { headers: { Authorization: `Bearer ${r.token}` } })).status, 200);
    const refused = await fetch(`${b.url}/v2/team/app/blobs/uploads/`, { method: "POST", headers: { Authorization: `Bearer ${r.token}` } });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code, "DENIED");
  });

  it("anonymous users pull public repositories and are challenged, never told, about private ones", async () => {
    const w = await token(basic("will", "will-password"), "repository:oss/lib:pull,push");
    assert.equal(await push(`Bearer ${w.token}`, "oss/lib"), 201);
    const anon = await token(undefined, "repository:oss/lib:pull", "repository:team/app:pull");
    assert.deepEqual(granted(anon.token!).map((a) => a.name), ["oss/lib"]);
    assert.equal((await fetch(`${b.url}/v2/oss/lib/manifests/v1`, { headers: { Authorization: `Bearer ${anon.token}` } })).status, 200);
    const existing = await fetch(`${b.url}/v2/team/app/manifests/v1`, { headers: { Authorization: `Bearer ${anon.token}` } });
    const missing = await fetch(`${b.url}/v2/team/nothing-here/manifests/v1`, { headers: { Authorization: `Bearer ${anon.token}` } });
    assert.equal(existing.status, 401);
    assert.equal(missing.status, existing.status, "the answer does not reveal whether a private repository exists");
    assert.equal(await existing.text(), (await missing.text()).replace("nothing-here", "app"));
  });

  it("lists in the catalog only what the caller may pull", async () => {
    const catalog = async (user: string) => {
      const t = await token(basic(user, `${user}-password`), "registry:catalog:*");
      return ((await (await fetch(`${b.url}/v2/_catalog`, { headers: { Authorization: `Bearer ${t.token}` } })).json()) as { repositories: string[] }).repositories;
    };
    assert.deepEqual(await catalog("rita"), ["oss/lib", "team/app"]);
    assert.deepEqual(await catalog("eve"), ["oss/lib"]);
  });

  it("robot tokens log in as their owner, within their scopes", async () => {
    const t = await token(basic("will", robot), "repository:team/ci:pull,push", "repository:oss/lib:pull,push");
    assert.equal(t.status, 200);
    assert.deepEqual(granted(t.token!), [
      { type: "repository", name: "team/ci", actions: ["pull", "push"] },
      { type: "repository", name: "oss/lib", actions: ["pull"] },
    ], "will may push to oss/lib, but the token's scope stops at team/*; oss/lib is public, so it may pull");
    assert.equal(await push(`Bearer ${t.token}`, "team/ci"), 201);
    assert.equal((await token(basic("ci", robot))).status, 200, "the token's own name works as the username too");
    assert.equal((await token(basic("eve", robot))).status, 401, "but not another user's name");
  });

  it("refuses a token for repo A on repo B, a pull token for push, and a revoked robot token", async () => {
    const t = await token(basic("will", pullRobot), "repository:team/app:pull,push");
    assert.deepEqual(granted(t.token!), [{ type: "repository", name: "team/app", actions: ["pull"] }]);
    assert.equal((await fetch(`${b.url}/v2/team/app/manifests/v1`, { headers: { Authorization: `Bearer ${t.token}` } })).status, 200);
    assert.equal((await fetch(`${b.url}/v2/team/app/blobs/uploads/`, { method: "POST", headers: { Authorization: `Bearer ${t.token}` } })).status, 403);
    assert.equal((await fetch(`${b.url}/v2/team/ci/manifests/v1`, { headers: { Authorization: `Bearer ${t.token}` } })).status, 403);
    await store.revokeToken("will", "reader", Date.now());
    assert.equal((await token(basic("will", pullRobot))).status, 401);
  });

  it("refresh tokens work through the OAuth2 POST and stop working once revoked", async () => {
    const login = await fetch(`${b.url}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "password", username: "rita", password: "rita-password", service: "berth", client_id: "test", access_type: "offline" }),
    });
    assert.equal(login.status, 200);
    const refresh = ((await login.json()) as { refresh_token: string }).refresh_token;
    const again = () =>
      fetch(`${b.url}/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refresh, service: "berth", client_id: "test", scope: "repository:team/app:pull" }),
      });
    const renewed = await again();
    assert.equal(renewed.status, 200);
    assert.deepEqual(granted(((await renewed.json()) as { token: string }).token).map((a) => a.name), ["team/app"]);
    await store.revokeRefreshTokens("rita", Date.now());
    assert.equal((await again()).status, 401);
  });

  it("a cross-repository mount needs pull on the source; without it the caller gets an upload session", async () => {
    const w = await token(basic("will", "will-password"), "repository:team/app:pull,push", "repository:eve/own:pull,push");
    const blob = randomBytes(500);
    await fetch(`${b.url}/v2/team/app/blobs/uploads/?digest=${sha256(blob)}`, { method: "POST", body: asBody(blob), headers: { Authorization: `Bearer ${w.token}` } });
    const e = await token(basic("eve", "eve-password"), "repository:eve/own:pull,push", "repository:team/app:pull");
    const res = await fetch(`${b.url}/v2/eve/own/blobs/uploads/?mount=${sha256(blob)}&from=team/app`, { method: "POST", headers: { Authorization: `Bearer ${e.token}` } });
    assert.equal(res.status, 202, "no mount, no leak");
    assert.equal((await fetch(`${b.url}/v2/eve/own/blobs/${sha256(blob)}`, { headers: { Authorization: `Bearer ${e.token}` } })).status, 404);
  });

  it("accepts Basic credentials directly on /v2/ for simple clients", async () => {
    assert.equal((await fetch(`${b.url}/v2/team/app/tags/list`, { headers: { Authorization: basic("rita", "rita-password") } })).status, 200);
    assert.equal((await fetch(`${b.url}/v2/team/app/tags/list`, { headers: { Authorization: basic("rita", "nope") } })).status, 401);
    assert.equal((await fetch(`${b.url}/v2/team/app/tags/list`, { headers: { Authorization: basic("eve", "eve-password") } })).status, 403);
  });

  it("slows down password guessing from one address with 429 and Retry-After, without locking the user out of the right password elsewhere", async () => {
    let last: Response | undefined;
    for (let i = 0; i < 7; i++) last = await fetch(`${b.url}/token?service=berth`, { headers: { Authorization: basic("eve", `guess-${i}`) } });
    assert.equal(last!.status, 429);
    assert.ok(Number(last!.headers.get("retry-after")) > 0);
    assert.equal((await token(basic("rita", "rita-password"))).status, 200, "other users from the same address still log in");
    const direct = await fetch(`${b.url}/v2/oss/lib/tags/list`, { headers: { Authorization: basic("eve", "guess-again") } });
    assert.equal(direct.status, 429, "Basic on /v2/ is held to the same limit");
  });

  it("records logins, pushes and denials in the audit log, never a password or token", async () => {
    const events = await store.queryAudit({ limit: 1000 });
    const actions = new Set(events.map((e) => `${e.action}:${e.result}`));
    for (const a of ["login:ok", "login:failed", "token.issue:ok", "push:ok", "tag.move:ok", "denied:denied"]) assert.ok(actions.has(a), a);
    const moved = events.find((e) => e.action === "tag.move" && e.repository === "team/app");
    assert.equal(moved?.target, "v1");
    assert.equal(moved?.actor, "will");
    const text = JSON.stringify(events);
    for (const secret of ["admin-password", "rita-password", robot]) assert.ok(!text.includes(secret), "no secret in the audit log");
  });
});
