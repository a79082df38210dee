import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  AuditEvent,
  AuthStore,
  RefreshTokenRecord,
  SigningKeyRecord,
  TokenRecord,
  UserRecord,
} from "../../src/storage/auth-store.js";
import { useContractStore } from "./contract-store.js";

/** The behaviour every AuthStore driver must show. `create` returns a fresh, empty store. */
export function describeAuthStoreContract(
  driver: string,
  create: () => Promise<{ store: AuthStore; cleanup(): Promise<void> }>,
): void {
  describe(`AuthStore contract: ${driver}`, () => {
    const store = useContractStore(create);

    let seq = 0;
    const user = (name: string, extra: Partial<UserRecord> = {}): UserRecord => ({
      name,
      passwordHash: `scrypt$16384$8$1$salt${++seq}$hash`,
      admin: false,
      createdAt: 1_700_000_000_000 + seq,
      ...extra,
    });
    const token = (owner: string, name: string, extra: Partial<TokenRecord> = {}): TokenRecord => ({
      id: `tok${++seq}`,
      name,
      owner,
      secretHash: `hash-${seq}`,
      scopes: ["repository:team/*:pull,push", "registry:catalog:*"],
      createdAt: 1_700_000_000_000 + seq,
      ...extra,
    });
    const refresh = (u: string, extra: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
      id: `rt${++seq}`,
      user: u,
      clientId: "docker",
      secretHash: `refresh-${seq}`,
      createdAt: 1_700_000_000_000,
      expiresAt: 1_800_000_000_000,
      ...extra,
    });
    const key = (kid: string, createdAt: number): SigningKeyRecord => ({
      kid,
      algorithm: "ES256",
      privateJwk: JSON.stringify({ kty: "EC", crv: "P-256", kid, d: "private" }),
      publicJwk: JSON.stringify({ kty: "EC", crv: "P-256", kid }),
      createdAt,
    });

    it("creates users once, reads them back exactly and lists them in byte order", async () => {
      const alice = user("u/alice", { admin: true });
      assert.equal(await store.createUser(alice), true);
      assert.equal(await store.createUser(user("u/alice")), false, "a taken name is refused");
      assert.deepEqual(await store.getUser("u/alice"), alice, "the first record wins");
      assert.equal(await store.getUser("u/Alice"), undefined, "names are compared exactly");
      for (const name of ["u/b", "u/B", "u/_", "u/a1"]) await store.createUser(user(name));
      const listed = (await store.listUsers()).filter((u) => u.name.startsWith("u/")).map((u) => u.name);
      assert.deepEqual(listed, ["u/B", "u/_", "u/a1", "u/alice", "u/b"]);
      assert.equal((await store.getUser("u/b"))?.admin, false);
    });

    it("changes a password, only for a user that exists", async () => {
      await store.createUser(user("pw/bob"));
      assert.equal(await store.setPassword("pw/bob", "scrypt$new"), true);
      assert.equal((await store.getUser("pw/bob"))?.passwordHash, "scrypt$new");
      assert.equal(await store.setPassword("pw/nobody", "scrypt$new"), false);
      assert.equal(await store.getUser("pw/nobody"), undefined, "setPassword creates no user");
    });

    it("deletes a user with their memberships, tokens and refresh tokens, keeping the audit log", async () => {
      await store.createUser(user("del/carol"));
      await store.createUser(user("del/dave"));
      await store.putNamespace({ name: "del-team", visibility: "private", owner: "del/carol", createdAt: 1 });
      await store.setMember("del-team", "del/carol", "owner");
      await store.setMember("del-team", "del/dave", "reader");
      const robot = token("del/carol", "ci");
      await store.createToken(robot);
      const rt = refresh("del/carol");
      await store.createRefreshToken(rt);
      const event: AuditEvent = { time: 5, actor: "del/carol", action: "push", result: "ok" };
      await store.appendAudit(event);

      assert.equal(await store.deleteUser("del/carol"), true);
      assert.equal(await store.deleteUser("del/carol"), false, "a second delete finds nothing");
      assert.equal(await store.getUser("del/carol"), undefined);
      assert.deepEqual(await store.rolesOf("del/carol"), []);
      assert.deepEqual(await store.listMembers("del-team"), [{ user: "del/dave", role: "reader" }]);
      assert.equal(await store.getToken(robot.id), undefined);
      assert.deepEqual(await store.listTokens("del/carol"), []);
      assert.equal(await store.getRefreshToken(rt.id), undefined);
      assert.deepEqual(await store.queryAudit({ actor: "del/carol", limit: 10 }), [event]);
      assert.equal((await store.getNamespace("del-team"))?.owner, "del/carol", "the namespace keeps its recorded owner");

      assert.equal(await store.createUser(user("del/carol")), true, "the name can be taken again");
      assert.deepEqual(await store.rolesOf("del/carol"), [], "a new user of that name inherits nothing");
    });

    it("creates robot tokens, one live token per owner and name, and lists them by owner", async () => {
      await store.createUser(user("tok/erin"));
      await store.createUser(user("tok/frank"));
      const ci = token("tok/erin", "ci", { expiresAt: 1_900_000_000_000 });
      assert.equal(await store.createToken(ci), true);
      assert.deepEqual(await store.getToken(ci.id), ci, "scopes and optional times round-trip");
      assert.equal(await store.createToken(token("tok/erin", "ci")), false, "the owner already has a live `ci`");
      assert.equal(await store.createToken(token("tok/frank", "ci")), true, "another owner may use the name");
      await store.createToken(token("tok/erin", "deploy"));
      await store.createToken(token("tok/erin", "Backup"));
      assert.deepEqual((await store.listTokens("tok/erin")).map((t) => t.name), ["Backup", "ci", "deploy"]);
      const all = (await store.listTokens()).filter((t) => t.owner.startsWith("tok/"));
      assert.deepEqual(all.map((t) => `${t.owner}:${t.name}`), ["tok/erin:Backup", "tok/erin:ci", "tok/erin:deploy", "tok/frank:ci"]);
      assert.equal(await store.getToken("tok-none"), undefined);
    });

    it("revokes a live token once and lets its name be used again", async () => {
      await store.createUser(user("rev/gina"));
      const first = token("rev/gina", "ci");
      await store.createToken(first);
      assert.equal(await store.revokeToken("rev/gina", "ci", 1_750_000_000_000), true);
      assert.equal(await store.revokeToken("rev/gina", "ci", 1_760_000_000_000), false, "no live `ci` is left");
      assert.equal(await store.revokeToken("rev/gina", "none", 1), false);
      assert.equal((await store.getToken(first.id))?.revokedAt, 1_750_000_000_000);
      const second = token("rev/gina", "ci");
      assert.equal(await store.createToken(second), true, "a revoked token's name is free again");
      assert.equal(await store.createToken(token("rev/gina", "ci")), false);
      const listed = await store.listTokens("rev/gina");
      assert.deepEqual(listed.map((t) => t.id), [first.id, second.id], "the revoked token stays listed");
      assert.equal(listed[1]!.revokedAt, undefined);
    });

    it("records when a token was last used, never moving it back", async () => {
      await store.createUser(user("touch/hal"));
      const t = token("touch/hal", "ci");
      await store.createToken(t);
      assert.equal((await store.getToken(t.id))?.lastUsedAt, undefined);
      await store.touchToken(t.id, 2_000);
      assert.equal((await store.getToken(t.id))?.lastUsedAt, 2_000);
      await store.touchToken(t.id, 1_000);
      assert.equal((await store.getToken(t.id))?.lastUsedAt, 2_000);
      await store.touchToken("touch-none", 3_000);
    });

    it("creates and updates namespaces, listing them in byte order", async () => {
      await store.putNamespace({ name: "ns-b", visibility: "private", owner: "someone", createdAt: 10 });
      await store.putNamespace({ name: "ns-a", visibility: "public", createdAt: 11 });
      await store.putNamespace({ name: "ns-B", visibility: "public", createdAt: 12 });
      assert.deepEqual(await store.getNamespace("ns-a"), { name: "ns-a", visibility: "public", createdAt: 11 });
      await store.putNamespace({ name: "ns-b", visibility: "public", owner: "other", createdAt: 99 });
      assert.deepEqual(
        await store.getNamespace("ns-b"),
        { name: "ns-b", visibility: "public", owner: "other", createdAt: 10 },
        "an update changes visibility and owner, not the creation time",
      );
      const listed = (await store.listNamespaces()).filter((n) => n.name.startsWith("ns-")).map((n) => n.name);
      assert.deepEqual(listed, ["ns-B", "ns-a", "ns-b"]);
      assert.equal(await store.getNamespace("ns-none"), undefined);
    });

    it("deletes a namespace with its members and its repositories' visibility, and nothing else", async () => {
      await store.createUser(user("nsdel/uma"));
      await store.putNamespace({ name: "nsdel", visibility: "public", createdAt: 1 });
      await store.putNamespace({ name: "nsdel0", visibility: "public", createdAt: 1 });
      await store.setMember("nsdel", "nsdel/uma", "writer");
      await store.setMember("nsdel0", "nsdel/uma", "reader");
      for (const repo of ["nsdel", "nsdel/app", "nsdel/a/b", "nsdel0/app", "nsdelx/app"]) await store.setRepositoryVisibility(repo, "public");
      assert.equal(await store.deleteNamespace("nsdel"), true);
      assert.equal(await store.getNamespace("nsdel"), undefined);
      assert.deepEqual(await store.listMembers("nsdel"), []);
      assert.deepEqual(await store.rolesOf("nsdel/uma"), [{ namespace: "nsdel0", role: "reader" }]);
      assert.ok(await store.getUser("nsdel/uma"), "the member's user stays");
      for (const repo of ["nsdel", "nsdel/app", "nsdel/a/b"]) assert.equal(await store.getRepositoryVisibility(repo), undefined, repo);
      for (const repo of ["nsdel0/app", "nsdelx/app"]) assert.equal(await store.getRepositoryVisibility(repo), "public", repo);
      assert.equal(await store.deleteNamespace("nsdel"), false);
      await store.setRepositoryVisibility("nsonly/app", "private");
      assert.equal(await store.deleteNamespace("nsonly"), true, "a namespace with only visibility overrides");
    });

    it("sets, replaces and removes members, and lists roles both ways", async () => {
      for (const name of ["m/ivy", "m/jack", "m/Kim"]) await store.createUser(user(name));
      await store.putNamespace({ name: "m-one", visibility: "private", createdAt: 1 });
      await store.putNamespace({ name: "m-two", visibility: "public", createdAt: 1 });
      await store.setMember("m-one", "m/jack", "writer");
      await store.setMember("m-one", "m/ivy", "reader");
      await store.setMember("m-one", "m/Kim", "owner");
      await store.setMember("m-two", "m/ivy", "maintainer");
      await store.setMember("m-one", "m/ivy", "writer");
      assert.deepEqual(await store.listMembers("m-one"), [
        { user: "m/Kim", role: "owner" },
        { user: "m/ivy", role: "writer" },
        { user: "m/jack", role: "writer" },
      ]);
      assert.deepEqual(await store.rolesOf("m/ivy"), [
        { namespace: "m-one", role: "writer" },
        { namespace: "m-two", role: "maintainer" },
      ]);
      assert.equal(await store.removeMember("m-one", "m/jack"), true);
      assert.equal(await store.removeMember("m-one", "m/jack"), false);
      assert.deepEqual(await store.rolesOf("m/jack"), []);
      assert.deepEqual(await store.listMembers("m-none"), []);
      await assert.rejects(store.setMember("m-none", "m/ivy", "reader"), "the namespace must exist");
      assert.deepEqual(await store.rolesOf("m/ivy"), [
        { namespace: "m-one", role: "writer" },
        { namespace: "m-two", role: "maintainer" },
      ]);
    });

    it("sets, replaces and clears per-repository visibility", async () => {
      assert.equal(await store.getRepositoryVisibility("vis/app"), undefined);
      await store.setRepositoryVisibility("vis/app", "public");
      await store.setRepositoryVisibility("vis/App", "private");
      await store.setRepositoryVisibility("vis/app", "private");
      assert.equal(await store.getRepositoryVisibility("vis/app"), "private");
      await store.setRepositoryVisibility("vis/zed", "public");
      const listed = (await store.listRepositoryVisibilities()).filter((v) => v.repository.startsWith("vis/"));
      assert.deepEqual(listed, [
        { repository: "vis/App", visibility: "private" },
        { repository: "vis/app", visibility: "private" },
        { repository: "vis/zed", visibility: "public" },
      ]);
      await store.setRepositoryVisibility("vis/app", undefined);
      assert.equal(await store.getRepositoryVisibility("vis/app"), undefined);
      await store.setRepositoryVisibility("vis/never", undefined);
      assert.deepEqual(
        (await store.listRepositoryVisibilities()).filter((v) => v.repository.startsWith("vis/")).map((v) => v.repository),
        ["vis/App", "vis/zed"],
      );
    });

    it("stores refresh tokens and revokes all of a user's live ones at once", async () => {
      await store.createUser(user("rt/lee"));
      await store.createUser(user("rt/mia"));
      const one = refresh("rt/lee");
      const two = refresh("rt/lee", { clientId: "berth-cli" });
      const old = refresh("rt/lee", { revokedAt: 1_600_000_000_000 });
      const other = refresh("rt/mia");
      for (const t of [one, two, old, other]) await store.createRefreshToken(t);
      assert.deepEqual(await store.getRefreshToken(one.id), one);
      assert.deepEqual(await store.getRefreshToken(old.id), old);
      assert.equal(await store.getRefreshToken("rt-none"), undefined);
      assert.equal(await store.revokeRefreshTokens("rt/lee", 1_750_000_000_000), 2, "the already revoked one is not counted");
      assert.equal((await store.getRefreshToken(one.id))?.revokedAt, 1_750_000_000_000);
      assert.equal((await store.getRefreshToken(two.id))?.revokedAt, 1_750_000_000_000);
      assert.equal((await store.getRefreshToken(old.id))?.revokedAt, 1_600_000_000_000);
      assert.equal((await store.getRefreshToken(other.id))?.revokedAt, undefined, "another user's are untouched");
      assert.equal(await store.revokeRefreshTokens("rt/lee", 1_760_000_000_000), 0);
    });

    it("adds signing keys once, lists them newest first, retires and deletes them", async () => {
      const older = key("kid-older", 1_000);
      const newer = { ...key("kid-newer", 2_000), algorithm: "RS256" as const };
      assert.equal(await store.addSigningKey(older), true);
      assert.equal(await store.addSigningKey(newer), true);
      assert.equal(await store.addSigningKey({ ...key("kid-older", 3_000), privateJwk: "{}" }), false, "a kid is added once");
      assert.deepEqual(await store.listSigningKeys(), [newer, older]);
      await store.retireSigningKey("kid-older", 2_500);
      await store.retireSigningKey("kid-older", 2_600);
      await store.retireSigningKey("kid-none", 2_500);
      assert.deepEqual(await store.listSigningKeys(), [newer, { ...older, retiredAt: 2_500 }], "a retired key stays listed");
      await store.deleteSigningKey("kid-older");
      await store.deleteSigningKey("kid-none");
      assert.deepEqual(await store.listSigningKeys(), [newer]);
    });

    it("appends audit events and queries them by each filter, newest first, at most `limit`", async () => {
      const base = 1_800_000_000_000;
      const events: AuditEvent[] = [
        { time: base + 1, actor: "au/nia", action: "login", result: "ok", source: "10.0.0.1" },
        {
          time: base + 2,
          actor: "au/nia",
          action: "push",
          repository: "au/app",
          target: "v1",
          result: "ok",
          detail: { digest: "sha256:abc", size: 3, nested: { list: [1, "two", null], flag: true } },
        },
        { time: base + 3, action: "denied", repository: "au/app", result: "denied", source: "10.0.0.9" },
        { time: base + 4, actor: "token:au/nia/ci", action: "push", repository: "au/other", target: "v2", result: "failed" },
        { time: base + 5, actor: "au/omar", action: "tag.move", repository: "au/app", target: "latest", result: "ok" },
        { time: base + 5, actor: "au/nia", action: "delete", repository: "au/app", target: "v0", result: "ok" },
      ];
      for (const e of events) await store.appendAudit(e);
      const [login, push, denied, tokenPush, tagMove, del] = events as [AuditEvent, AuditEvent, AuditEvent, AuditEvent, AuditEvent, AuditEvent];
      const since = { since: base };

      assert.deepEqual(await store.queryAudit({ ...since, limit: 100 }), [del, tagMove, tokenPush, denied, push, login]);
      assert.deepEqual(await store.queryAudit({ ...since, limit: 2 }), [del, tagMove], "the newest `limit`, appended last first on a tie");
      assert.deepEqual(await store.queryAudit({ actor: "au/nia", limit: 100 }), [del, push, login]);
      assert.deepEqual(await store.queryAudit({ repository: "au/app", limit: 100 }), [del, tagMove, denied, push]);
      assert.deepEqual(await store.queryAudit({ action: "push", ...since, limit: 100 }), [tokenPush, push]);
      assert.deepEqual(await store.queryAudit({ since: base + 3, limit: 100 }), [del, tagMove, tokenPush, denied], "since is inclusive");
      assert.deepEqual(await store.queryAudit({ ...since, until: base + 2, limit: 100 }), [push, login], "until is inclusive");
      assert.deepEqual(
        await store.queryAudit({ actor: "au/nia", repository: "au/app", since: base + 2, until: base + 4, limit: 100 }),
        [push],
        "filters combine",
      );
      assert.deepEqual(await store.queryAudit({ action: "push", ...since, limit: 1 }), [tokenPush]);
      assert.deepEqual(await store.queryAudit({ actor: "au/none", limit: 100 }), []);
      assert.deepEqual(await store.queryAudit({ ...since, limit: 0 }), []);

      const [withDetail] = await store.queryAudit({ actor: "au/nia", action: "push", limit: 1 });
      assert.deepEqual(withDetail?.detail, push.detail, "detail round-trips as an object");
      assert.equal("actor" in denied, false);
      const [anonymous] = await store.queryAudit({ action: "denied", ...since, limit: 1 });
      assert.deepEqual(anonymous, denied, "absent fields stay absent");
    });

    it("imports users exactly, replacing one of the same name without losing its memberships or tokens", async () => {
      const pia = user("imp/pia", { passwordHash: "scrypt$16384$8$1$c2FsdA$aGFzaA", admin: false, createdAt: 1_600_000_000_000 });
      await store.importUser(pia);
      assert.deepEqual(await store.getUser("imp/pia"), pia, "the hash is stored as given");
      await store.putNamespace({ name: "imp-team", visibility: "private", createdAt: 1 });
      await store.setMember("imp-team", "imp/pia", "writer");
      const robot = token("imp/pia", "ci");
      await store.createToken(robot);
      const rt = refresh("imp/pia");
      await store.createRefreshToken(rt);
      const replaced = { ...pia, passwordHash: "scrypt$other", admin: true, createdAt: 1_500_000_000_000 };
      await store.importUser(replaced);
      await store.importUser(replaced);
      assert.deepEqual(await store.getUser("imp/pia"), replaced, "hash, admin flag and creation time are the given ones");
      assert.deepEqual(await store.rolesOf("imp/pia"), [{ namespace: "imp-team", role: "writer" }]);
      assert.deepEqual(await store.getToken(robot.id), robot);
      assert.deepEqual(await store.getRefreshToken(rt.id), rt);
    });

    it("imports robot tokens by id, every field as given, refusing a second live token of one name", async () => {
      await store.createUser(user("imp/quinn"));
      await store.createUser(user("imp/ray"));
      const ci = token("imp/quinn", "ci", { expiresAt: 1_900_000_000_000, lastUsedAt: 1_750_000_000_000 });
      await store.importToken(ci);
      assert.deepEqual(await store.getToken(ci.id), ci);
      const moved = { ...ci, owner: "imp/ray", scopes: ["repository:x:pull"], lastUsedAt: 1_700_000_000_000, revokedAt: 1_760_000_000_000 };
      await store.importToken(moved);
      assert.deepEqual(await store.getToken(ci.id), moved, "every field is replaced, lastUsedAt too");
      const live = token("imp/ray", "ci");
      await store.importToken(live);
      const clash = token("imp/ray", "ci");
      await assert.rejects(store.importToken(clash), "imp/ray already has a live `ci`");
      assert.equal(await store.getToken(clash.id), undefined, "a refused import writes nothing");
      await store.importToken({ ...clash, revokedAt: 1_770_000_000_000 });
      assert.equal((await store.getToken(clash.id))?.revokedAt, 1_770_000_000_000, "a revoked token of that name may join");
      await assert.rejects(store.importToken(token("imp/nobody", "ci")), "the owner must exist");
      assert.deepEqual((await store.listTokens("imp/ray")).map((t) => t.id).sort(), [ci.id, live.id, clash.id].sort());
    });

    it("imports namespaces with their creation time", async () => {
      await store.putNamespace({ name: "imp-ns", visibility: "private", owner: "a", createdAt: 10 });
      await store.importNamespace({ name: "imp-ns", visibility: "public", createdAt: 5 });
      assert.deepEqual(await store.getNamespace("imp-ns"), { name: "imp-ns", visibility: "public", createdAt: 5 });
      await store.importNamespace({ name: "imp-new", visibility: "private", owner: "b", createdAt: 7 });
      assert.deepEqual(await store.getNamespace("imp-new"), { name: "imp-new", visibility: "private", owner: "b", createdAt: 7 });
    });

    it("lists every refresh token by id and imports them by id", async () => {
      await store.createUser(user("imp/sam"));
      const before = (await store.listRefreshTokens()).map((t) => t.id);
      assert.deepEqual(before, [...before].sort(), "listed by id");
      const a = refresh("imp/sam", { id: "imp-rt-b", revokedAt: 1_650_000_000_000 });
      const b = refresh("imp/sam", { id: "imp-rt-a" });
      await store.importRefreshToken(a);
      await store.importRefreshToken(b);
      await store.importRefreshToken({ ...b, revokedAt: 1_660_000_000_000, clientId: "podman" });
      const listed = (await store.listRefreshTokens()).filter((t) => t.id.startsWith("imp-rt-"));
      assert.deepEqual(listed, [{ ...b, revokedAt: 1_660_000_000_000, clientId: "podman" }, a]);
      await assert.rejects(store.importRefreshToken(refresh("imp/none")), "the user must exist");
    });

    it("imports signing keys by kid, retirement included", async () => {
      const k = { ...key("kid-imp", 4_000), retiredAt: 4_500 };
      await store.importSigningKey(k);
      assert.deepEqual((await store.listSigningKeys()).find((x) => x.kid === "kid-imp"), k);
      const back = key("kid-imp", 3_000);
      await store.importSigningKey(back);
      assert.deepEqual((await store.listSigningKeys()).find((x) => x.kid === "kid-imp"), back, "retiredAt is cleared when the given key has none");
      await store.deleteSigningKey("kid-imp");
    });

    it("exports the audit log oldest first in pages that never split one time, and imports it in order, all or none", async () => {
      const base = 2_000_000_000_000;
      const at = (dt: number, target: string): AuditEvent => ({ time: base + dt, action: "export", target, result: "ok" });
      const events = [at(1, "a"), at(2, "b"), at(2, "c"), at(2, "d"), at(3, "e"), at(4, "f")];
      await store.importAudit(events);
      await store.importAudit([]);
      assert.deepEqual(await store.exportAudit(base, 100), events, "oldest first, appended order within a time");
      assert.deepEqual(await store.exportAudit(base, 2), events.slice(0, 4), "the page is completed to the end of time base+2");
      assert.deepEqual(await store.exportAudit(base + 2, 1), [events[4]]);
      assert.deepEqual(await store.exportAudit(base + 4, 10), []);
      const all = await store.exportAudit(undefined, 1_000_000);
      assert.deepEqual(all.slice(-events.length), events, "undefined starts at the beginning");
      await assert.rejects(store.importAudit([at(5, "g"), { ...at(5, "h"), result: "bogus" as AuditEvent["result"] }]));
      assert.deepEqual(await store.exportAudit(base + 4, 10), [], "a failed import appends nothing");
      const detailed: AuditEvent = { time: base + 6, actor: "x", action: "push", repository: "r", target: "t", result: "ok", source: "s", detail: { b: 1, a: [2] } };
      await store.importAudit([detailed]);
      assert.deepEqual(await store.exportAudit(base + 5, 10), [detailed], "every field round-trips");
    });
  });
}
