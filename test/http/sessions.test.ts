// The web UI's sign-in as any HTTP client sees it (POST/GET/DELETE /api/v1/session), the session
// cookie on /v2/ and /api/v1/, its CSRF token, what ends a session, and the rule that untagging
// needs push. Set up through /api/v1, so it runs on both storage setups.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage } from "../helpers/fixtures.js";
import { pushImage, withClient } from "../helpers/push.js";

const ADMIN = { username: "admin", password: "admin-password-1" };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const json = { "Content-Type": "application/json" };

interface Signed {
  cookie: string;
  csrf: string;
  body: Record<string, unknown>;
  setCookie: string;
}

describe("web UI sessions over HTTP", () => {
  let b: TestBerth;
  const admin = () => ({ Authorization: basic(ADMIN.username, ADMIN.password) });
  const signIn = async (username: string, password: string, headers: Record<string, string> = {}): Promise<Signed> => {
    const res = await fetch(`${b.url}/api/v1/session`, { method: "POST", headers: { ...json, ...headers }, body: JSON.stringify({ username, password }) });
    assert.equal(res.status, 201, await res.clone().text());
    const setCookie = res.headers.get("set-cookie") ?? "";
    const cookie = /berth_session=([^;]+)/.exec(setCookie)![1]!;
    const body = (await res.json()) as Record<string, unknown>;
    return { cookie: `berth_session=${cookie}`, csrf: String(body.csrf), body, setCookie };
  };
  const api = (path: string, init: RequestInit = {}) => fetch(`${b.url}${path}`, init);

  before(async () => {
    b = await startBerth({ BERTH_AUTH: "true", BERTH_ADMIN_PASSWORD: ADMIN.password });
    for (const [name, password] of [["will", "will-password-1"], ["rita", "rita-password-1"]]) {
      assert.equal((await api("/api/v1/users", { method: "POST", headers: { ...admin(), ...json }, body: JSON.stringify({ name, password }) })).status, 201);
    }
    assert.equal((await api("/api/v1/namespaces/team", { method: "PUT", headers: { ...admin(), ...json }, body: JSON.stringify({ visibility: "private" }) })).status, 200);
    for (const [user, role] of [["will", "writer"], ["rita", "reader"]]) {
      assert.equal((await api(`/api/v1/namespaces/team/members/${user}`, { method: "PUT", headers: { ...admin(), ...json }, body: JSON.stringify({ role }) })).status, 200);
    }
    await withClient(b.url, (c) => pushImage(c, "team/app", "v1", makeImage()), ADMIN);
  });
  after(async () => {
    await b?.stop();
  });

  it("signed out, GET /api/v1/session answers who: nobody, and the admin API refuses the browser", async () => {
    const res = await api("/api/v1/session");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { authEnabled: true, user: null, admin: false, kind: null, csrf: null, roles: [] });
    assert.equal((await api("/api/v1/users")).status, 401);
  });

  it("a wrong password is 401 and sets no cookie; the right one sets an HttpOnly, SameSite=Strict cookie", async () => {
    const wrong = await api("/api/v1/session", { method: "POST", headers: json, body: JSON.stringify({ username: "will", password: "nope-nope-nope" }) });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get("set-cookie"), null);
    const s = await signIn("will", "will-password-1");
    assert.match(s.setCookie, /HttpOnly/);
    assert.match(s.setCookie, /SameSite=Strict/);
    assert.doesNotMatch(s.setCookie, /Secure/, "plain HTTP: a Secure cookie would never come back");
    assert.deepEqual(s.body.roles, [{ namespace: "team", role: "writer" }]);
    const who = (await (await api("/api/v1/session", { headers: { Cookie: s.cookie } })).json()) as Record<string, unknown>;
    assert.equal(who.user, "will");
    assert.equal(who.csrf, s.csrf);
  });

  it("behind a TLS proxy (X-Forwarded-Proto: https) the cookie is Secure", async () => {
    const s = await signIn("will", "will-password-1", { "X-Forwarded-Proto": "https" });
    assert.match(s.setCookie, /; Secure/);
  });

  it("the cookie reads /v2/ as its user may; changes need the CSRF token; a cross-site Origin is refused", async () => {
    const rita = await signIn("rita", "rita-password-1");
    assert.equal((await api("/v2/team/app/tags/list", { headers: { Cookie: rita.cookie } })).status, 200);
    const will = await signIn("will", "will-password-1");
    const untag = (headers: Record<string, string>) => api("/v2/team/app/manifests/v1", { method: "DELETE", headers: { Cookie: will.cookie, ...headers } });
    assert.equal((await untag({})).status, 403, "no CSRF token");
    assert.equal((await untag({ "X-Berth-CSRF": rita.csrf })).status, 403, "another session's token");
    assert.equal((await untag({ "X-Berth-CSRF": will.csrf, Origin: "http://evil.example" })).status, 403, "a page of another site");
    assert.equal((await api("/v2/team/app/tags/list", { headers: admin() })).status, 200);
    assert.deepEqual(((await (await api("/v2/team/app/tags/list", { headers: admin() })).json()) as { tags: string[] }).tags, ["v1"], "nothing was untagged");
  });

  it("untagging needs push: a writer may delete a tag but not a manifest by digest, a reader neither", async () => {
    const digest = await withClient(b.url, (c) => pushImage(c, "team/app", "untag-me", makeImage({ annotations: { n: "untag" } })), ADMIN);
    const will = await signIn("will", "will-password-1");
    const rita = await signIn("rita", "rita-password-1");
    const del = (s: Signed, ref: string) => api(`/v2/team/app/manifests/${ref}`, { method: "DELETE", headers: { Cookie: s.cookie, "X-Berth-CSRF": s.csrf, Origin: b.url } });
    assert.equal((await del(rita, "untag-me")).status, 403);
    assert.equal((await del(will, digest)).status, 403);
    assert.equal((await del(will, "untag-me")).status, 202);
    const tags = ((await (await api("/v2/team/app/tags/list", { headers: admin() })).json()) as { tags: string[] }).tags;
    assert.ok(!tags.includes("untag-me"));
    assert.equal((await api(`/v2/team/app/manifests/${digest}`, { method: "HEAD", headers: admin() })).status, 200, "the manifest stays");
  });

  it("untagging with a bearer token: a token granting delete alone (as distribution's clients ask) or pull and push both do", async () => {
    const token = async (user: string, password: string, scope: string) => {
      const res = await api(`/token?service=berth&scope=${encodeURIComponent(scope)}`, { headers: { Authorization: basic(user, password) } });
      return ((await res.json()) as { token: string }).token;
    };
    for (const [tag, bearer] of [
      ["by-delete", await token(ADMIN.username, ADMIN.password, "repository:team/app:delete")],
      ["by-push", await token("will", "will-password-1", "repository:team/app:pull,push")],
    ] as const) {
      await withClient(b.url, (c) => pushImage(c, "team/app", tag, makeImage({ annotations: { tag } })), ADMIN);
      const res = await api(`/v2/team/app/manifests/${tag}`, { method: "DELETE", headers: { Authorization: `Bearer ${bearer}` } });
      assert.equal(res.status, 202, `${tag}: ${await res.text()}`);
    }
    const pullOnly = await token("will", "will-password-1", "repository:team/app:pull");
    await withClient(b.url, (c) => pushImage(c, "team/app", "kept", makeImage({ annotations: { tag: "kept" } })), ADMIN);
    assert.equal((await api("/v2/team/app/manifests/kept", { method: "DELETE", headers: { Authorization: `Bearer ${pullOnly}` } })).status, 403, "pull alone is not enough");
  });

  it("sign-out ends the session on the server: the old cookie is refused afterwards", async () => {
    const s = await signIn("will", "will-password-1");
    const out = await api("/api/v1/session", { method: "DELETE", headers: { Cookie: s.cookie, "X-Berth-CSRF": s.csrf } });
    assert.equal(out.status, 200);
    assert.match(out.headers.get("set-cookie") ?? "", /berth_session=; Max-Age=0/);
    assert.equal((await api("/v2/team/app/tags/list", { headers: { Cookie: s.cookie } })).status, 401);
  });

  it("a password change ends the user's sessions", async () => {
    const s = await signIn("rita", "rita-password-1");
    assert.equal((await api("/api/v1/users/rita/password", { method: "PUT", headers: { ...admin(), ...json }, body: JSON.stringify({ password: "rita-password-2" }) })).status, 200);
    assert.equal((await api("/v2/team/app/tags/list", { headers: { Cookie: s.cookie } })).status, 401);
  });

  it("a robot token signs in narrowed to its scopes, and its revocation ends that session", async () => {
    const created = await api("/api/v1/tokens", { method: "POST", headers: { ...admin(), ...json }, body: JSON.stringify({ user: "will", name: "ci", scopes: ["repository:team/app:pull"] }) });
    assert.equal(created.status, 201);
    const { token } = (await created.json()) as { token: string };
    const s = await signIn("will", token);
    assert.equal(s.body.kind, "token");
    assert.equal((await api("/v2/team/app/tags/list", { headers: { Cookie: s.cookie } })).status, 200);
    const untag = await api("/v2/team/app/manifests/v1", { method: "DELETE", headers: { Cookie: s.cookie, "X-Berth-CSRF": s.csrf } });
    assert.equal(untag.status, 403, "a pull-only token cannot untag though its owner could");
    assert.equal((await api("/api/v1/tokens/will/ci", { method: "DELETE", headers: admin() })).status, 200);
    assert.equal((await api("/v2/team/app/tags/list", { headers: { Cookie: s.cookie } })).status, 401);
  });

  it("a session cookie is not a refresh token for /token", async () => {
    const s = await signIn("will", "will-password-1");
    const value = s.cookie.slice("berth_session=".length);
    const res = await api("/token", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: value, service: "berth", scope: "repository:team/app:pull" }).toString() });
    assert.equal(res.status, 401);
  });
});

describe("web UI sessions without access control", () => {
  let b: TestBerth;
  before(async () => {
    b = await startBerth();
  });
  after(async () => {
    await b?.stop();
  });

  it("GET /api/v1/session says access control is off; there is nothing to sign in to", async () => {
    assert.deepEqual(await (await fetch(`${b.url}/api/v1/session`)).json(), { authEnabled: false, user: null, admin: false, kind: null, csrf: null, roles: [] });
    const post = await fetch(`${b.url}/api/v1/session`, { method: "POST", headers: json, body: JSON.stringify({ username: "a", password: "b" }) });
    assert.equal(post.status, 404);
  });

  it("a page of another site cannot start a garbage collection on an open registry (a form POST carries its Origin)", async () => {
    const res = await fetch(`${b.url}/api/v1/gc?dryRun=true`, { method: "POST", headers: { Origin: "http://evil.example" } });
    assert.equal(res.status, 403);
    assert.equal((await fetch(`${b.url}/api/v1/gc?dryRun=true`, { method: "POST" })).status, 200, "registry clients send no Origin");
  });
});
