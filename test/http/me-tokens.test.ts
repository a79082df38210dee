import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { assertError, makeImage, MT } from "./client.js";
import { AuthClient, basic, createUser, declareNamespace } from "./auth-client.js";

const ADMIN = basic("admin", "admin-password");

/** /api/v1/me/tokens (http/handlers/me-api.ts): a user's own robot tokens, and what those tokens may do. */
describe("/api/v1/me/tokens: self-service robot tokens", () => {
  let b: TestBerth;
  let admin: AuthClient;
  let rita: AuthClient;
  let walt: AuthClient;

  before(async () => {
    b = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" });
    admin = new AuthClient(b.url, ADMIN);
    await declareNamespace(admin, "team");
    await createUser(admin, "rita", "rita-password", { namespace: "team", role: "reader" });
    await createUser(admin, "walt", "walt-password", { namespace: "team", role: "writer" });
    rita = new AuthClient(b.url, basic("rita", "rita-password"));
    walt = new AuthClient(b.url, basic("walt", "walt-password"));
    const image = makeImage();
    await admin.pushImage("team/app", image, "v1");
  });
  after(async () => {
    await b?.stop();
  });

  const mint = async (c: AuthClient, name: string, scopes: string[]) => {
    const res = await c.api("POST", "me/tokens", { name, scopes });
    assert.equal(res.status, 201, res.text());
    const { token } = res.json<{ token: string }>();
    assert.match(token, /^berth_/);
    return token;
  };
  const pushBlobStatus = async (c: AuthClient) => (await c.request("POST", "/v2/team/app/blobs/uploads/")).status;

  it("creates, lists and revokes a user's own token; the secret is shown once and the changes are audited", async () => {
    const token = await mint(rita, "ci", ["repository:team/*:pull"]);
    const listed = await rita.api("GET", "me/tokens");
    assert.equal(listed.status, 200);
    const items = listed.json<{ items: Record<string, unknown>[] }>().items;
    assert.equal(items.length, 1);
    const [ci] = items;
    assert.equal(ci!.name, "ci");
    assert.equal(ci!.owner, "rita");
    assert.deepEqual(ci!.scopes, ["repository:team/*:pull"]);
    assert.equal(typeof ci!.createdAt, "number");
    assert.ok(!JSON.stringify(items).includes(token.split("_")[2]!), "the secret is never listed");
    assert.ok(!("secretHash" in ci!) && !("id" in ci!));
    assert.deepEqual((await walt.api("GET", "me/tokens")).json(), { items: [] }, "each user sees only their own");

    const withToken = new AuthClient(b.url, basic("rita", token));
    assert.equal((await withToken.get("/v2/team/app/manifests/v1", { accept: MT.ociManifest })).status, 200);

    assertError(await rita.api("POST", "me/tokens", { name: "ci", scopes: ["repository:team/*:pull"] }), 409, "CONFLICT");
    const revoked = await rita.api("DELETE", "me/tokens/ci");
    assert.equal(revoked.status, 200, revoked.text());
    assert.equal((await withToken.get("/v2/team/app/manifests/v1", { accept: MT.ociManifest })).status, 401, "a revoked token stops working at once");
    assertError(await rita.api("DELETE", "me/tokens/ci"), 404, "NOT_FOUND");
    assert.ok((await rita.api("GET", "me/tokens")).json<{ items: { revokedAt?: number }[] }>().items[0]!.revokedAt! > 0);

    const audit = (await admin.api("GET", "audit?user=rita")).json<{ action: string; target?: string }[]>();
    assert.ok(audit.some((e) => e.action === "token.create" && e.target === "rita/ci"), JSON.stringify(audit));
    assert.ok(audit.some((e) => e.action === "token.revoke" && e.target === "rita/ci"));
  });

  it("gives a token at most its owner's rights: a reader's token with push in its scopes still cannot push", async () => {
    const readerToken = await mint(rita, "pusher", ["repository:team/*:pull,push,delete"]);
    const asReaderToken = new AuthClient(b.url, basic("rita", readerToken));
    assert.equal(await pushBlobStatus(asReaderToken), 403);
    assert.equal((await asReaderToken.get("/v2/team/app/manifests/v1", { accept: MT.ociManifest })).status, 200);

    const pullOnly = new AuthClient(b.url, basic("walt", await mint(walt, "pull-only", ["repository:team/*:pull"])));
    assert.equal(await pushBlobStatus(pullOnly), 403, "a writer's pull-only token cannot push");
    const writerToken = new AuthClient(b.url, basic("walt", await mint(walt, "pusher", ["repository:team/*:pull,push"])));
    assert.equal(await pushBlobStatus(writerToken), 202, "a writer's push token can");
    const elsewhere = new AuthClient(b.url, basic("walt", await mint(walt, "other", ["repository:other/*:pull,push"])));
    assert.equal(await pushBlobStatus(elsewhere), 403, "scopes elsewhere give nothing here");
  });

  it("refuses robot tokens (403) and anonymous callers (401), and bad requests (400)", async () => {
    const token = await mint(walt, "robot", ["repository:team/*:pull"]);
    const robot = new AuthClient(b.url, basic("walt", token));
    assertError(await robot.api("POST", "me/tokens", { name: "child", scopes: ["repository:team/*:pull"] }), 403, "DENIED");
    assertError(await robot.api("GET", "me/tokens"), 403, "DENIED");
    assertError(await robot.api("DELETE", "me/tokens/robot"), 403, "DENIED");
    assertError(await new AuthClient(b.url).api("GET", "me/tokens"), 401, "UNAUTHORIZED");
    assertError(await walt.api("POST", "me/tokens", { name: "x", scopes: [] }), 400, "INVALID");
    assertError(await walt.api("POST", "me/tokens", { name: "x", scopes: ["team/*:push"] }), 400, "INVALID");
    assertError(await walt.api("POST", "me/tokens", { name: "Bad Name", scopes: ["repository:team/*:pull"] }), 400, "INVALID");
    assertError(await walt.api("POST", "me/tokens", { name: "x", scopes: ["repository:team/*:pull"], expiresAt: Date.now() - 1000 }), 400, "INVALID");
    assertError(await walt.api("GET", "me/other"), 404, "NOT_FOUND");
  });
});
