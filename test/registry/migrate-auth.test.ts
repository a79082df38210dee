import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { migrateAccessControl } from "../../src/registry/migrate-auth.js";
import type { AuditEvent, AuthStore, SigningKeyRecord, TokenRecord } from "../../src/storage/auth-store.js";
import { createSqliteAuthStore } from "../../src/storage/drivers/sqlite-auth-store.js";

/** The merge rules of migrateAccessControl on two real (in-memory SQLite) stores. */
describe("migrateAccessControl", () => {
  let source: AuthStore;
  let target: AuthStore;
  beforeEach(() => {
    source = createSqliteAuthStore({ path: ":memory:" });
    target = createSqliteAuthStore({ path: ":memory:" });
  });
  afterEach(async () => {
    await source.close();
    await target.close();
  });
  const user = (name: string, hash = `scrypt$${name}`) => ({ name, passwordHash: hash, admin: false, createdAt: 1 });
  const token = (id: string, extra: Partial<TokenRecord> = {}): TokenRecord => ({
    id, name: "ci", owner: "ann", secretHash: `hash-${id}`, scopes: ["repository:a/*:pull"], createdAt: 10, ...extra,
  });
  const key = (kid: string, extra: Partial<SigningKeyRecord> = {}): SigningKeyRecord => ({
    kid, algorithm: "ES256", privateJwk: `{"kid":"${kid}","d":"x"}`, publicJwk: `{"kid":"${kid}"}`, createdAt: 100, ...extra,
  });
  const migrate = async () => {
    const problems: string[] = [];
    const report = await migrateAccessControl(source, target, problems);
    assert.deepEqual(problems, []);
    return report;
  };

  it("never undoes a revocation or retirement made on the target, nor moves a last use back", async () => {
    await source.createUser(user("ann"));
    await target.createUser(user("ann"));
    await source.createToken(token("t1", { lastUsedAt: 500 }));
    await target.createToken(token("t1", { lastUsedAt: 900, revokedAt: 800 }));
    await source.createRefreshToken({ id: "r1", user: "ann", clientId: "docker", secretHash: "h", createdAt: 1, expiresAt: 9 });
    await target.createRefreshToken({ id: "r1", user: "ann", clientId: "docker", secretHash: "h", createdAt: 1, expiresAt: 9, revokedAt: 5 });
    await source.addSigningKey(key("k1"));
    await target.addSigningKey(key("k1", { retiredAt: 300 }));

    const report = await migrate();
    assert.deepEqual(await target.getToken("t1"), token("t1", { lastUsedAt: 900, revokedAt: 800 }));
    assert.equal((await target.getRefreshToken("r1"))?.revokedAt, 5);
    assert.equal((await target.listSigningKeys())[0]?.retiredAt, 300);
    assert.deepEqual(report.replaced, [], "nothing the source had differed from the merged records");
    assert.equal(report.present.tokens + report.present.refreshTokens + report.present.signingKeys, 3);
  });

  it("lets the source win otherwise, and revokes a live target token holding the source token's name", async () => {
    await source.createUser({ ...user("ann", "scrypt$source"), admin: true });
    await target.createUser(user("ann", "scrypt$target"));
    await target.createUser(user("zoe"));
    await source.createToken(token("src"));
    await target.createToken(token("tgt"));
    await source.putNamespace({ name: "a", visibility: "public", createdAt: 1 });
    await target.putNamespace({ name: "a", visibility: "private", createdAt: 2 });
    await source.setMember("a", "ann", "owner");
    await target.setMember("a", "ann", "reader");
    await target.setMember("a", "zoe", "writer");
    await source.setRepositoryVisibility("a/x", "private");
    await target.setRepositoryVisibility("a/x", "public");
    await target.setRepositoryVisibility("a/y", "public");

    const report = await migrate();
    assert.deepEqual(await target.getUser("ann"), { ...user("ann", "scrypt$source"), admin: true }, "the hash is the source's, unchanged");
    assert.equal((await target.getToken("tgt"))?.revokedAt !== undefined, true, "the rival is revoked");
    assert.deepEqual(await target.getToken("src"), token("src"));
    assert.deepEqual(await target.getNamespace("a"), { name: "a", visibility: "public", createdAt: 1 });
    assert.deepEqual(await target.listMembers("a"), [{ user: "ann", role: "owner" }, { user: "zoe", role: "writer" }]);
    assert.equal(await target.getRepositoryVisibility("a/x"), "private");
    assert.equal(await target.getRepositoryVisibility("a/y"), "public", "the target's own override stays");
    assert.deepEqual(report.replaced, [
      "user ann",
      "namespace a",
      "member ann of a",
      "token ann/ci (id tgt): revoked, the source's live token of that name takes its place",
      "visibility of a/x",
    ]);
    assert.deepEqual(report.targetOnly, ["user zoe", "member zoe of a", "token ann/ci (id tgt)", "visibility of a/y (public)"]);

    const again = await migrate();
    assert.deepEqual(Object.values(again.written), [0, 0, 0, 0, 0, 0, 0, 0], "a rerun writes nothing");
    assert.deepEqual(again.replaced, []);
  });

  it("copies the audit log without duplicates, keeping each event's count, across pages and reruns", async () => {
    const e = (time: number, target?: string): AuditEvent => ({ time, action: "pull", result: "ok", ...(target ? { target } : {}) });
    // 1500 events at one time (more than a page), an event that happened twice, and a later one.
    const events = [...Array.from({ length: 1500 }, (_, i) => e(5, `t${i}`)), e(7), e(7), e(8, "x")];
    await source.importAudit(events);
    await target.importAudit([e(7), e(8, "mine")]);
    const report = await migrate();
    assert.equal(report.written.auditEvents, events.length - 1, "one e(7) was there already");
    assert.equal(report.present.auditEvents, 1);
    const copied = await target.exportAudit(undefined, 100_000);
    assert.equal(copied.filter((x) => x.time === 7).length, 2);
    assert.equal(copied.filter((x) => x.time === 5).length, 1500);
    assert.equal(copied.length, events.length + 1, "the target's own event stays");
    assert.equal((await migrate()).written.auditEvents, 0);
    assert.equal((await target.exportAudit(undefined, 100_000)).length, events.length + 1);
  });
});
