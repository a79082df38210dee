import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { assertError, makeImage, MT } from "./client.js";
import { AuthClient, basic, createUser, declareNamespace } from "./auth-client.js";

const ADMIN = basic("admin", "admin-password");

/** Namespace owners on the admin API's members and visibility endpoints (http/handlers/owner-api.ts). */
describe("namespace owners manage their own namespace's members and repository visibility", () => {
  let b: TestBerth;
  let admin: AuthClient;
  let olga: AuthClient;
  let mia: AuthClient;
  const anonymous = () => new AuthClient(b.url);

  before(async () => {
    b = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" });
    admin = new AuthClient(b.url, ADMIN);
    for (const [name, password] of [["olga", "olga-password"], ["oscar", "oscar-password"], ["mia", "mia-password"], ["nick", "nick-password"]] as const) {
      await createUser(admin, name, password);
    }
    await declareNamespace(admin, "team", "private", "olga");
    await declareNamespace(admin, "other", "private", "oscar");
    const second = await admin.api("PUT", "namespaces/team/members/oscar", { role: "owner" });
    assert.equal(second.status, 200);
    olga = new AuthClient(b.url, basic("olga", "olga-password"));
    mia = new AuthClient(b.url, basic("mia", "mia-password"));
    await admin.pushImage("team/app", makeImage(), "v1");
    await admin.pushImage("other/app", makeImage(), "v1");
  });
  after(async () => {
    await b?.stop();
  });

  const members = async (c: AuthClient, ns: string) => {
    const res = await c.api("GET", `namespaces/${ns}/members`);
    assert.equal(res.status, 200, res.text());
    return Object.fromEntries(res.json<{ user: string; role: string }[]>().map((m) => [m.user, m.role]));
  };

  it("lets an owner add, change and remove readers, writers and maintainers, audited under the owner's name", async () => {
    assert.equal((await olga.api("PUT", "namespaces/team/members/mia", { role: "reader" })).status, 200);
    assert.equal((await mia.get("/v2/team/app/manifests/v1", { accept: MT.ociManifest })).status, 200, "the new reader may pull");
    assert.equal((await mia.request("POST", "/v2/team/app/blobs/uploads/")).status, 403);
    assert.equal((await olga.api("PUT", "namespaces/team/members/mia", { role: "writer" })).status, 200);
    assert.equal((await mia.request("POST", "/v2/team/app/blobs/uploads/")).status, 202, "now a writer");
    assert.deepEqual(await members(olga, "team"), { mia: "writer", olga: "owner", oscar: "owner" });
    assert.equal((await olga.api("PUT", "namespaces/team/members/nick", { role: "maintainer" })).status, 200);
    assert.equal((await olga.api("DELETE", "namespaces/team/members/nick")).status, 200);
    assert.deepEqual(Object.keys(await members(olga, "team")).sort(), ["mia", "olga", "oscar"]);
    assertError(await olga.api("PUT", "namespaces/team/members/mia", { role: "boss" }), 400, "INVALID");
    assertError(await olga.api("PUT", "namespaces/team/members/ghost", { role: "reader" }), 404, "NOT_FOUND");

    const audit = (await admin.api("GET", "audit?user=olga&action=policy.change")).json<{ target: string; detail: Record<string, unknown> }[]>();
    assert.ok(audit.some((e) => e.target === "team" && e.detail.member === "mia" && e.detail.role === "writer"), JSON.stringify(audit));
    assert.ok(audit.some((e) => e.target === "team" && e.detail.member === "nick" && e.detail.removed === true));
  });

  it("keeps making, changing and removing owners with administrators", async () => {
    assertError(await olga.api("PUT", "namespaces/team/members/nick", { role: "owner" }), 403, "DENIED");
    assertError(await olga.api("PUT", "namespaces/team/members/oscar", { role: "reader" }), 403, "DENIED");
    assertError(await olga.api("DELETE", "namespaces/team/members/oscar"), 403, "DENIED");
    assertError(await olga.api("DELETE", "namespaces/team/members/olga"), 403, "DENIED");
    assert.equal((await members(admin, "team")).oscar, "owner", "nothing changed");
    assert.equal((await admin.api("PUT", "namespaces/team/members/nick", { role: "owner" })).status, 200, "an administrator may");
    assert.equal((await admin.api("DELETE", "namespaces/team/members/nick")).status, 200);
  });

  it("lets an owner set the visibility of their namespace's repositories", async () => {
    assert.equal((await anonymous().get("/v2/team/app/manifests/v1", { accept: MT.ociManifest })).status, 401);
    const set = await olga.api("PUT", "repositories/team/app/visibility", { visibility: "public" });
    assert.equal(set.status, 200, set.text());
    assert.equal((await anonymous().get("/v2/team/app/manifests/v1", { accept: MT.ociManifest })).status, 200, "public now");
    assert.equal((await olga.api("PUT", "repositories/team/app/visibility", { visibility: "inherit" })).status, 200);
    assert.equal((await anonymous().get("/v2/team/app/manifests/v1", { accept: MT.ociManifest })).status, 401);
    assertError(await olga.api("PUT", "repositories/team/app/visibility", { visibility: "world" }), 400, "INVALID");
    const audit = (await admin.api("GET", "audit?user=olga&repo=team/app")).json<{ action: string; detail: { visibility: string } }[]>();
    assert.deepEqual(audit.map((e) => e.detail.visibility), ["inherit", "public"]);
  });

  it("refuses owners outside their namespaces, members who are not owners, and the rest of the admin API", async () => {
    assertError(await olga.api("GET", "namespaces/other/members"), 403, "DENIED");
    assertError(await olga.api("PUT", "namespaces/other/members/mia", { role: "reader" }), 403, "DENIED");
    assertError(await olga.api("PUT", "repositories/other/app/visibility", { visibility: "public" }), 403, "DENIED");
    assertError(await mia.api("PUT", "namespaces/team/members/nick", { role: "reader" }), 403, "DENIED");
    assertError(await mia.api("PUT", "repositories/team/app/visibility", { visibility: "public" }), 403, "DENIED");
    assertError(await olga.api("GET", "users"), 403, "DENIED");
    assertError(await olga.api("PUT", "namespaces/team", { visibility: "public" }), 403, "DENIED");
    assertError(await olga.api("GET", "audit"), 403, "DENIED");
    assertError(await anonymous().api("GET", "namespaces/team/members"), 401, "UNAUTHORIZED");
    // The owner's own robot token is not the owner.
    const minted = await olga.api("POST", "me/tokens", { name: "ops", scopes: ["repository:team/*:pull,push,delete"] });
    const robot = new AuthClient(b.url, basic("olga", minted.json<{ token: string }>().token));
    assertError(await robot.api("PUT", "namespaces/team/members/nick", { role: "reader" }), 403, "DENIED");
  });
});
