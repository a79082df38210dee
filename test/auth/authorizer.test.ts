import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createAuthorizer, type Authorizer, type Identity } from "../../src/auth/authorizer.js";
import { hashSecret, verifySecret } from "../../src/auth/passwords.js";
import { globMatch, parseScope, parseScopes } from "../../src/auth/scope.js";
import type { AuthStore } from "../../src/storage/auth-store.js";
import { createSqliteAuthStore } from "../../src/storage/drivers/sqlite-auth-store.js";

const user = (name: string, admin = false): Identity => ({ kind: "user", name, admin });
const anonymous: Identity = { kind: "anonymous" };
const sorted = (s: Set<string>) => [...s].sort();

describe("scopes and passwords", () => {
  it("parses Docker scopes, including names with a registry port", () => {
    assert.deepEqual(parseScope("repository:team/app:pull,push"), { type: "repository", name: "team/app", actions: ["pull", "push"] });
    assert.deepEqual(parseScope("repository:localhost:5000/app:pull"), { type: "repository", name: "localhost:5000/app", actions: ["pull"] });
    assert.deepEqual(parseScope("registry:catalog:*"), { type: "registry", name: "catalog", actions: ["*"] });
    assert.equal(parseScope("repository:app"), undefined);
    assert.equal(parseScope("other:x:pull"), undefined);
    assert.equal(parseScopes(["repository:a:pull repository:b:push", "bad"]).length, 2);
  });
  it("matches globs across path segments", () => {
    assert.ok(globMatch("team/*", "team/app") && globMatch("team/*", "team/a/b") && globMatch("*", "x"));
    assert.ok(!globMatch("team/*", "teams/app") && !globMatch("team/app", "team/app2"));
  });
  it("hashes passwords with a salt and verifies only the right one", async () => {
    const a = await hashSecret("s3cret");
    assert.notEqual(a, await hashSecret("s3cret"), "salted");
    assert.ok(a.startsWith("scrypt$"));
    assert.equal(await verifySecret("s3cret", a), true);
    assert.equal(await verifySecret("s3creT", a), false);
    assert.equal(await verifySecret("s3cret", "garbage"), false);
  });
});

describe("authorizer", () => {
  let dir: string;
  let store: AuthStore;
  let authz: Authorizer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-authz-"));
    store = createSqliteAuthStore({ path: join(dir, "auth.db"), create: true });
    authz = createAuthorizer({
      store,
      defaultVisibility: "private",
      policies: [{ repositories: "mirror/*", users: ["*"], anonymous: false, actions: ["pull"] }],
    });
    await store.putNamespace({ name: "team", visibility: "private", createdAt: 0 });
    await store.putNamespace({ name: "oss", visibility: "public", createdAt: 0 });
    for (const name of ["rita", "will", "mike", "olga", "alice"]) {
      await store.createUser({ name, passwordHash: "x", admin: false, createdAt: 0 });
    }
    await store.setMember("team", "rita", "reader");
    await store.setMember("team", "will", "writer");
    await store.setMember("team", "mike", "maintainer");
    await store.setMember("team", "olga", "owner");
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("grants each role its actions in its namespace only", async () => {
    assert.deepEqual(sorted(await authz.allowed(user("rita"), "team/app")), ["pull"]);
    assert.deepEqual(sorted(await authz.allowed(user("will"), "team/app")), ["pull", "push"]);
    assert.deepEqual(sorted(await authz.allowed(user("mike"), "team/app")), ["delete", "pull", "push"]);
    assert.deepEqual(sorted(await authz.allowed(user("olga"), "team/a/b")), ["delete", "pull", "push"]);
    assert.deepEqual(sorted(await authz.allowed(user("will"), "other/app")), []);
  });

  it("gives users their own namespace and admins everything", async () => {
    assert.deepEqual(sorted(await authz.allowed(user("alice"), "alice/tool")), ["delete", "pull", "push"]);
    assert.deepEqual(sorted(await authz.allowed(user("root", true), "team/app")), ["delete", "pull", "push"]);
  });

  it("lets anyone pull public repositories and nothing else", async () => {
    assert.deepEqual(sorted(await authz.allowed(anonymous, "oss/lib")), ["pull"]);
    assert.deepEqual(sorted(await authz.allowed(anonymous, "team/app")), []);
    await store.setRepositoryVisibility("team/public-docs", "public");
    assert.deepEqual(sorted(await authz.allowed(anonymous, "team/public-docs")), ["pull"]);
    await store.setRepositoryVisibility("oss/secret", "private");
    assert.deepEqual(sorted(await authz.allowed(anonymous, "oss/secret")), [], "a repository's own visibility wins");
    assert.deepEqual(sorted(await authz.allowed(anonymous, "nobody/app")), [], "unknown namespaces default to private");
  });

  it("adds config policies to what users have", async () => {
    assert.deepEqual(sorted(await authz.allowed(user("rita"), "mirror/alpine")), ["pull"]);
    assert.deepEqual(sorted(await authz.allowed(anonymous, "mirror/alpine")), []);
  });

  it("narrows a robot token to its scopes and to what its owner may do", async () => {
    const token = (scopes: string[]): Identity => ({ kind: "token", id: "t1", owner: "will", name: "ci", admin: false, scopes: parseScopes(scopes) });
    assert.deepEqual(sorted(await authz.allowed(token(["repository:team/*:pull,push"]), "team/app")), ["pull", "push"]);
    assert.deepEqual(sorted(await authz.allowed(token(["repository:team/app:pull"]), "team/app")), ["pull"]);
    assert.deepEqual(sorted(await authz.allowed(token(["repository:team/app:pull"]), "team/other")), []);
    assert.deepEqual(sorted(await authz.allowed(token(["repository:team/*:pull,push,delete"]), "team/app")), ["pull", "push"], "never more than the owner");
    assert.deepEqual(sorted(await authz.allowed(token(["repository:*:*"]), "team/app")), ["pull", "push"]);
    assert.deepEqual(sorted(await authz.allowed(token(["repository:team/*:pull,push"]), "oss/base")), ["pull"], "public pulls stay open to tokens");
  });
});
