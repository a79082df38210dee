// What a token request grants, as a class: every role × every requested action set (`*`, unknown
// actions included) × repositories of every kind, checked against a table written out here, and
// what the guard then lets each `*` token do. Then the gaps real clients hit: skopeo delete's
// `repository:NAME:*`, podman search's catalog through a token without the catalog scope, and a
// cross-repository mount judged by the bearer token's own grant. Set up through /api/v1, so it runs
// on both storage setups (BERTH_TEST_BACKEND=s3-postgres).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createLoginThrottle } from "../../src/auth/credentials.js";
import { ACTIONS, type Action } from "../../src/auth/scope.js";
import { createTokenService, type TokenService } from "../../src/auth/tokens.js";
import { createTokenGuard, type Guard } from "../../src/http/guard.js";
import type { AuthStore } from "../../src/storage/auth-store.js";
import { createSqliteAuthStore } from "../../src/storage/drivers/sqlite-auth-store.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage, sha256 } from "../helpers/fixtures.js";
import { pushImage, withClient } from "../helpers/push.js";

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const ADMIN = basic("admin", "admin-password");
const ADMIN_CREDENTIALS = { username: "admin", password: "admin-password" };
const ALL: Action[] = ["pull", "push", "delete"];
const NONE: Action[] = [];
const PULL: Action[] = ["pull"];

/** The repositories of the table: private in a namespace with members, public, and a user's own namespace. */
const REPOS = ["team/app", "oss/lib", "eve/own"] as const;
type Repo = (typeof REPOS)[number];

/** Who asks, and what each may do on each repository (the expected result, written out by hand). */
const ROLES: Record<string, Record<Repo, Action[]>> = {
  admin: { "team/app": ALL, "oss/lib": ALL, "eve/own": ALL },
  "owner (olga)": { "team/app": ALL, "oss/lib": ALL, "eve/own": NONE },
  "maintainer (mike)": { "team/app": ALL, "oss/lib": PULL, "eve/own": NONE },
  "writer (will)": { "team/app": ["pull", "push"], "oss/lib": PULL, "eve/own": NONE },
  "reader (rita)": { "team/app": PULL, "oss/lib": PULL, "eve/own": NONE },
  "outsider in her own namespace (eve)": { "team/app": NONE, "oss/lib": PULL, "eve/own": ALL },
  anonymous: { "team/app": NONE, "oss/lib": PULL, "eve/own": NONE },
  "robot of will, team/app:pull,push": { "team/app": ["pull", "push"], "oss/lib": PULL, "eve/own": NONE },
  "robot of mike, team/*:*": { "team/app": ALL, "oss/lib": PULL, "eve/own": NONE },
};

/** Requested action lists: each action alone, combinations, the wildcard, and an action Berth does not know. */
const REQUESTS: string[][] = [["pull"], ["push"], ["delete"], ["pull", "push"], ["pull", "push", "delete"], ["*"], ["pull", "*"], ["frobnicate"], ["frobnicate", "pull"]];

/** The rule the table is checked against: `*` is everything held, a named action only when held, others nothing. */
function expectedGrant(held: Action[], requested: string[]): Action[] {
  return ACTIONS.filter((a) => held.includes(a) && (requested.includes("*") || requested.includes(a)));
}

interface Grant {
  type: string;
  name: string;
  actions: string[];
}
const accessOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).access as Grant[];

describe("access control: what a token request grants, and what the token then does", () => {
  let b: TestBerth;
  const auth: Record<string, string | undefined> = { admin: ADMIN, anonymous: undefined };

  const api = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${b.url}/api/v1/${path}`, { method, headers: { Authorization: ADMIN, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const text = await res.text();
    assert.ok(res.status < 300, `${method} /api/v1/${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };

  async function token(who: string | undefined, ...scopes: string[]): Promise<string> {
    const q = new URLSearchParams({ service: "berth" });
    for (const s of scopes) q.append("scope", s);
    const res = await fetch(`${b.url}/token?${q}`, { headers: who ? { Authorization: who } : {} });
    const body = (await res.json()) as { token?: string };
    assert.equal(res.status, 200, `token for ${scopes.join(" ")}: ${JSON.stringify(body)}`);
    return body.token!;
  }
  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

  /** The admin's push of a fresh one-layer image, through the registry client (the token flow). */
  async function pushAsAdmin(repo: string, tag: string) {
    const image = makeImage({ layers: [randomBytes(700)] });
    await withClient(b.url, (c) => pushImage(c, repo, tag, image), ADMIN_CREDENTIALS);
    return image;
  }

  before(async () => {
    b = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" });
    for (const name of ["olga", "mike", "will", "rita", "eve"]) await api("POST", "users", { name, password: `${name}-password` });
    await api("PUT", "namespaces/team", { visibility: "private", owner: "olga" });
    await api("PUT", "namespaces/oss", { visibility: "public", owner: "olga" });
    await api("PUT", "namespaces/team/members/mike", { role: "maintainer" });
    await api("PUT", "namespaces/team/members/will", { role: "writer" });
    await api("PUT", "namespaces/team/members/rita", { role: "reader" });
    const willBot = (await api("POST", "tokens", { user: "will", name: "ci", scopes: ["repository:team/app:pull,push"] })).token as string;
    const mikeBot = (await api("POST", "tokens", { user: "mike", name: "all", scopes: ["repository:team/*:*"] })).token as string;
    Object.assign(auth, {
      "owner (olga)": basic("olga", "olga-password"),
      "maintainer (mike)": basic("mike", "mike-password"),
      "writer (will)": basic("will", "will-password"),
      "reader (rita)": basic("rita", "rita-password"),
      "outsider in her own namespace (eve)": basic("eve", "eve-password"),
      "robot of will, team/app:pull,push": basic("will", willBot),
      "robot of mike, team/*:*": basic("mike", mikeBot),
    });
  });
  after(() => b?.stop());

  it("the table names every action Berth knows, so a new action cannot go ungranted or overgranted unnoticed", () => {
    assert.deepEqual([...ACTIONS].sort(), [...ALL].sort(), "add the new action to ALL, ROLES and REQUESTS of this test");
    assert.deepEqual(Object.keys(auth).sort(), Object.keys(ROLES).sort());
  });

  it("grants each role exactly the table's actions for every requested action list, `*` and unknown actions included", async () => {
    const wrong: string[] = [];
    for (const [role, held] of Object.entries(ROLES)) {
      for (const requested of REQUESTS) {
        const t = await token(auth[role], ...REPOS.map((r) => `repository:${r}:${requested.join(",")}`));
        const got = Object.fromEntries(accessOf(t).map((a) => [`${a.type}:${a.name}`, a.actions]));
        const want = Object.fromEntries(
          REPOS.map((r) => [`repository:${r}`, expectedGrant(held[r], requested)]).filter(([, actions]) => actions!.length > 0),
        );
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          wrong.push(`${role} asking ${requested.join(",")}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("grants registry:catalog:* to every role, anonymous included, and nothing for scope kinds it does not know", async () => {
    for (const role of Object.keys(ROLES)) {
      const t = await token(auth[role], "registry:catalog:*", "registry:other:*", "thing:team/app:pull", "repository:Not A Name:pull");
      assert.deepEqual(accessOf(t), [{ type: "registry", name: "catalog", actions: ["*"] }], role);
    }
  });

  it("a `*` token lets each role do exactly what the table says at /v2/, delete included", async () => {
    const probes: Record<Action, (repo: string, t: string) => Promise<Response>> = {
      pull: (repo, t) => fetch(`${b.url}/v2/${repo}/tags/list`, { headers: bearer(t) }),
      push: (repo, t) => fetch(`${b.url}/v2/${repo}/blobs/uploads/`, { method: "POST", headers: bearer(t) }),
      delete: (repo, t) => fetch(`${b.url}/v2/${repo}/manifests/sha256:${"0".repeat(64)}`, { method: "DELETE", headers: bearer(t) }),
    };
    const wrong: string[] = [];
    for (const [role, held] of Object.entries(ROLES)) {
      for (const repo of REPOS) {
        const t = await token(auth[role], `repository:${repo}:*`);
        for (const action of ACTIONS) {
          const res = await probes[action](repo, t);
          await res.arrayBuffer();
          const refused = res.status === 401 || res.status === 403;
          if (refused === held[repo].includes(action)) wrong.push(`${role} ${action} ${repo}: ${res.status}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("skopeo delete's request: the admin's repository:NAME:* token deletes the manifest; a reader's only pulls and is refused with 403", async () => {
    const image = await pushAsAdmin("team/gone", "1.0");
    const reader = await token(auth["reader (rita)"], "repository:team/gone:*");
    assert.deepEqual(accessOf(reader), [{ type: "repository", name: "team/gone", actions: ["pull"] }]);
    const refused = await fetch(`${b.url}/v2/team/gone/manifests/${image.manifestDigest}`, { method: "DELETE", headers: bearer(reader) });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code, "DENIED");
    const admin = await token(ADMIN, "repository:team/gone:*");
    assert.deepEqual(accessOf(admin), [{ type: "repository", name: "team/gone", actions: ["pull", "push", "delete"] }]);
    assert.equal((await fetch(`${b.url}/v2/team/gone/manifests/${image.manifestDigest}`, { method: "DELETE", headers: bearer(admin) })).status, 202);
    assert.equal((await fetch(`${b.url}/v2/team/gone/manifests/${image.manifestDigest}`, { headers: bearer(admin) })).status, 404, "the manifest is gone");
  });

  it("podman search's request (a token asked without any scope) lists the catalog: all for the admin, what each caller may pull for others", async () => {
    await pushAsAdmin("team/app", "1");
    await pushAsAdmin("oss/lib", "1");
    await pushAsAdmin("eve/own", "1");
    const catalog = async (who: string | undefined) => {
      const res = await fetch(`${b.url}/v2/_catalog`, { headers: bearer(await token(who)) });
      const body = (await res.json()) as { repositories: string[] };
      assert.equal(res.status, 200, `catalog: ${JSON.stringify(body)}`);
      return body.repositories.filter((r) => (REPOS as readonly string[]).includes(r));
    };
    assert.deepEqual(await catalog(ADMIN), ["eve/own", "oss/lib", "team/app"]);
    assert.deepEqual(await catalog(auth["reader (rita)"]), ["oss/lib", "team/app"]);
    assert.deepEqual(await catalog(auth["outsider in her own namespace (eve)"]), ["eve/own", "oss/lib"]);
    assert.deepEqual(await catalog(auth["robot of will, team/app:pull,push"]), ["oss/lib", "team/app"]);
    assert.deepEqual(await catalog(undefined), ["oss/lib"], "anonymous: what anonymous may pull");
    const noCredentials = await fetch(`${b.url}/v2/_catalog`);
    assert.equal(noCredentials.status, 401, "no credentials at all: the challenge, so clients log in first");
    assert.match(noCredentials.headers.get("www-authenticate")!, /scope="registry:catalog:\*"/);
  });

  it("a cross-repository mount with a bearer token needs pull on `from` in the token itself, not just for its holder", async () => {
    const secret = randomBytes(900);
    const digest = sha256(secret);
    await withClient(b.url, (c) => c.pushBlob("team/app", secret), ADMIN_CREDENTIALS);
    const mount = (target: string, headers: Record<string, string>) =>
      fetch(`${b.url}/v2/${target}/blobs/uploads/?mount=${digest}&from=team/app`, { method: "POST", headers });
    // will may pull team/app, but this token was issued for team/other alone.
    const narrow = await token(auth["writer (will)"], "repository:team/other:pull,push");
    const refused = await mount("team/other", bearer(narrow));
    assert.equal(refused.status, 202, "a plain upload session, not a mount");
    assert.ok(refused.headers.get("location")?.includes("/blobs/uploads/"));
    assert.equal((await fetch(`${b.url}/v2/team/other/blobs/${digest}`, { method: "HEAD", headers: bearer(narrow) })).status, 404, "nothing was mounted");

    const wide = await token(auth["writer (will)"], "repository:team/other:pull,push", "repository:team/app:pull");
    assert.equal((await mount("team/other", bearer(wide))).status, 201, "with pull on team/app in the token, it mounts");
    const star = await token(auth["maintainer (mike)"], "repository:team/third:pull,push", "repository:team/app:*");
    assert.equal((await mount("team/third", bearer(star))).status, 201, "pull through a `*` grant counts");
    assert.equal((await mount("team/fourth", { Authorization: auth["writer (will)"]! })).status, 201, "Basic: the user's own access counts");
    const robot = await token(auth["robot of will, team/app:pull,push"], "repository:team/app:pull,push");
    assert.equal((await mount("eve/own", { Authorization: auth["outsider in her own namespace (eve)"]! })).status, 202, "Basic without pull on from");
    assert.equal((await fetch(`${b.url}/v2/team/app/blobs/${digest}`, { method: "HEAD", headers: bearer(robot) })).status, 200);
  });
});

describe("the guard reads a token's access claim", () => {
  let dir: string;
  let store: AuthStore;
  let tokens: TokenService;
  let guard: Guard;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-guard-"));
    store = createSqliteAuthStore({ path: join(dir, "auth.db"), create: true });
    tokens = createTokenService({ store, issuer: "berth", service: "berth", ttlSeconds: 300 });
    guard = createTokenGuard({
      store,
      tokens,
      policies: [],
      defaultVisibility: "private",
      service: "berth",
      realm: () => "http://berth.invalid/token",
      basic: true,
      throttle: { user: createLoginThrottle(), address: createLoginThrottle() },
    });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const request = (token: string) => ({ headers: { authorization: `Bearer ${token}` }, socket: { remoteAddress: "127.0.0.1" } }) as unknown as IncomingMessage;
  const issue = async (actions: string[]) =>
    (await tokens.issue("admin", [{ type: "repository", name: "team/app", actions }], { kind: "user", name: "admin", admin: true })).token;

  it("a granted `*` covers every action, delete included, on that repository only", async () => {
    const star = request(await issue(["*"]));
    for (const action of ACTIONS) await guard.check(star, { repository: "team/app", actions: [action] });
    await assert.rejects(guard.check(star, { repository: "team/other", actions: ["pull"] }), /denied/i);
    assert.equal(await guard.canMountFrom({ identity: { kind: "user", name: "admin", admin: true }, token: (await tokens.verify(await issue(["*"])))! }, "team/app"), true);
  });

  it("the expanded actions work the same way, and a pull-only claim is refused a delete", async () => {
    const expanded = request(await issue(["pull", "push", "delete"]));
    await guard.check(expanded, { repository: "team/app", actions: ["delete"] });
    await assert.rejects(guard.check(request(await issue(["pull"])), { repository: "team/app", actions: ["delete"] }), /denied/i);
  });
});
