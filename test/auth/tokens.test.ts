import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { createTokenService, type TokenService } from "../../src/auth/tokens.js";
import type { AuthStore } from "../../src/storage/auth-store.js";
import { createSqliteAuthStore } from "../../src/storage/drivers/sqlite-auth-store.js";

const pull = [{ type: "repository" as const, name: "team/app", actions: ["pull"] }];

describe("token service", () => {
  let dir: string;
  let store: AuthStore;
  let tokens: TokenService;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-tokens-"));
    store = createSqliteAuthStore({ path: join(dir, "auth.db"), create: true });
    tokens = createTokenService({ store, issuer: "berth", service: "registry.test", ttlSeconds: 300 });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("issues a token that verifies with its subject and access, lasting the configured lifetime", async () => {
    const issued = await tokens.issue("alice", pull);
    assert.equal(issued.expiresIn, 300);
    assert.deepEqual(await tokens.verify(issued.token), { subject: "alice", access: pull });
  });

  it("never issues tokens shorter than 60 seconds", async () => {
    const short = createTokenService({ store, issuer: "berth", service: "registry.test", ttlSeconds: 5 });
    assert.equal((await short.issue("alice", pull)).expiresIn, 60);
  });

  it("refuses alg none, another key, another service, another issuer, a tampered payload and an expired token", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { access: pull };
    const unsigned = new UnsecuredJWT(claims).setIssuer("berth").setAudience("registry.test").setExpirationTime(now + 300).encode();
    assert.equal(await tokens.verify(unsigned), undefined, "alg: none");

    const foreign = await generateKeyPair("ES256");
    const kid = JSON.parse((await store.listSigningKeys())[0]!.publicJwk).kid as string;
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid }).setIssuer("berth")
      .setAudience("registry.test").setExpirationTime(now + 300).sign(foreign.privateKey);
    assert.equal(await tokens.verify(forged), undefined, "signed by another key under our kid");

    const other = createTokenService({ store, issuer: "berth", service: "other.service", ttlSeconds: 300 });
    assert.equal(await tokens.verify((await other.issue("alice", pull)).token), undefined, "token for another service");
    const otherIssuer = createTokenService({ store, issuer: "someone-else", service: "registry.test", ttlSeconds: 300 });
    assert.equal(await tokens.verify((await otherIssuer.issue("alice", pull)).token), undefined, "another issuer");

    const [h, p, s] = (await tokens.issue("alice", pull)).token.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as { access: { actions: string[] }[] };
    payload.access[0]!.actions = ["pull", "push", "delete"];
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${s}`;
    assert.equal(await tokens.verify(tampered), undefined, "tampered scope");

    const key = (await store.listSigningKeys())[0]!;
    const { importJWK } = await import("jose");
    const expired = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: key.kid }).setIssuer("berth")
      .setAudience("registry.test").setIssuedAt(now - 600).setExpirationTime(now - 300)
      .sign(await importJWK(JSON.parse(key.privateJwk), "ES256"));
    assert.equal(await tokens.verify(expired), undefined, "expired");
    assert.equal(await tokens.verify("not.a.jwt"), undefined);
  });

  it("rotates keys without breaking live tokens, and publishes every key in the JWKS", async () => {
    const before = await tokens.issue("bob", pull);
    const oldKid = JSON.parse(Buffer.from(before.token.split(".")[0]!, "base64url").toString()).kid as string;
    const newKid = await tokens.rotate();
    assert.notEqual(newKid, oldKid);
    assert.ok(await tokens.verify(before.token), "a token signed with the retired key still verifies");
    const after = await tokens.issue("bob", pull);
    assert.equal(JSON.parse(Buffer.from(after.token.split(".")[0]!, "base64url").toString()).kid, newKid);
    const kids = (await tokens.jwks()).keys.map((k) => k.kid);
    assert.ok(kids.includes(oldKid) && kids.includes(newKid));
    assert.ok((await tokens.jwks()).keys.every((k) => k.d === undefined), "no private parts in the JWKS");
    // A second node sharing the store verifies the first node's tokens.
    const node2 = createTokenService({ store, issuer: "berth", service: "registry.test", ttlSeconds: 300 });
    assert.ok(await node2.verify(after.token));
    void exportJWK;
  });
});
