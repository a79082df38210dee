import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "../../src/http/app.js";
import { createOpenGuard } from "../../src/http/guard.js";
import { silentLogger } from "../../src/logger.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { AuthClient, basic } from "./auth-client.js";
import { Client, assertError, makeImage, uniqueName } from "./client.js";

const RULES = `
tagRules:
  - name: releases
    repositories: "*"
    immutable: ["v*"]
`;

const ADMIN = basic("admin", "admin-password");

/** The catalog endpoints of /api/v1 (http/handlers/catalog-api.ts), with access control off and on. */
for (const mode of ["off", "on"] as const) {
  describe(`/api/v1 namespaces, repositories and tags, access control ${mode}`, () => {
    let dir: string;
    let b: TestBerth;
    let c: AuthClient;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "berth-catalog-api-"));
      await writeFile(join(dir, "berth.yaml"), RULES);
      b = await startBerth({
        BERTH_CONFIG: join(dir, "berth.yaml"),
        ...(mode === "on" ? { BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" } : {}),
      });
      c = new AuthClient(b.url, mode === "on" ? ADMIN : undefined);
    });
    after(async () => {
      await b.stop();
      await rm(dir, { recursive: true, force: true });
    });

    const api = (method: string, path: string) => c.request(method, `/api/v1/${path}`);

    it("lists namespaces, repositories with counts, and tags; deletes a tag and then the repository", async () => {
      const ns = uniqueName("api");
      const image = await c.pushImage(`${ns}/app`, makeImage(), "1.0");
      await c.pushManifest(`${ns}/app`, "latest", image.manifest, image.mediaType);
      await c.pushImage(`${ns}/other`, makeImage(), "x");

      const namespaces = (await api("GET", "namespaces")).json<{ name: string; repositories: number }[]>();
      assert.deepEqual(namespaces.find((n) => n.name === ns), { name: ns, repositories: 2, declared: false });
      const repos = await api("GET", `repositories?namespace=${ns}`);
      assert.equal(repos.status, 200);
      const expectVisibility = mode === "on" ? { visibility: "private" } : {};
      assert.deepEqual(repos.json(), [
        { name: `${ns}/app`, tags: 2, manifests: 1, ...expectVisibility },
        { name: `${ns}/other`, tags: 1, manifests: 1, ...expectVisibility },
      ]);
      assert.deepEqual((await api("GET", `repositories/${ns}/app/tags`)).json(), [
        { tag: "1.0", digest: image.digest },
        { tag: "latest", digest: image.digest },
      ]);

      const tagDeleted = await api("DELETE", `repositories/${ns}/app/tags/latest`);
      assert.equal(tagDeleted.status, 200, tagDeleted.text());
      assert.deepEqual(tagDeleted.json(), { repository: `${ns}/app`, tag: "latest", digest: image.digest });
      assert.equal((await c.get(`/v2/${ns}/app/manifests/latest`)).status, 404);
      assert.equal((await c.get(`/v2/${ns}/app/manifests/1.0`)).status, 200, "other tags and the manifest stay");

      const repoDeleted = await api("DELETE", `repositories/${ns}/app`);
      assert.equal(repoDeleted.status, 200, repoDeleted.text());
      assert.deepEqual(repoDeleted.json(), { repository: `${ns}/app`, tags: 1, manifests: 1, links: 2 });
      assert.equal((await c.get(`/v2/${ns}/app/manifests/1.0`)).status, 404, "a deleted repository's image no longer pulls");
      assert.equal((await c.get(`/v2/${ns}/app/manifests/${image.digest}`)).status, 404);
      assertError(await api("DELETE", `repositories/${ns}/app`), 404, "NAME_UNKNOWN");
      assertError(await api("GET", `repositories/${ns}/app/tags`), 404, "NAME_UNKNOWN");
      assertError(await api("DELETE", `repositories/${ns}/other/tags/nope`), 404, "MANIFEST_UNKNOWN");
    });

    it("answers bad input with OCI errors: invalid names, tags, flags and encodings", async () => {
      assertError(await api("DELETE", "repositories/Bad%20Name"), 400, "NAME_INVALID");
      assertError(await api("DELETE", "repositories/ok/tags/-bad"), 400, "TAG_INVALID");
      assertError(await api("GET", "repositories?namespace=a/b"), 400, "NAME_INVALID");
      assertError(await api("DELETE", "namespaces/x?force=maybe"), 400, "INVALID");
      assertError(await api("DELETE", "repositories/%E0%A4%A"), 400, "NAME_INVALID");
      assertError(await api("DELETE", "namespaces/nothing-here"), 404, "NAME_UNKNOWN");
    });

    it("refuses deletions under an immutable-tag rule with 403 DENIED, changing nothing", async () => {
      const name = `${uniqueName("imm")}/app`;
      await c.pushImage(name, makeImage(), "v1");
      const repo = assertError(await api("DELETE", `repositories/${name}`), 403, "DENIED");
      assert.match(repo.message, /immutable under tag rule "releases"/);
      assertError(await api("DELETE", `repositories/${name}/tags/v1`), 403, "DENIED");
      assertError(await api("DELETE", `namespaces/${name.split("/")[0]}?force=true`), 403, "DENIED");
      assert.equal((await c.get(`/v2/${name}/manifests/v1`)).status, 200);
      assert.deepEqual((await api("GET", `repositories/${name}/tags`)).json(), [
        { tag: "v1", digest: (await c.get(`/v2/${name}/manifests/v1`)).headers.get("docker-content-digest"), immutable: "releases" },
      ]);
    });

    it("refuses to delete a namespace that holds repositories with 409 CONFLICT unless force=true", async () => {
      const ns = uniqueName("nsdel");
      await c.pushImage(`${ns}/a`, makeImage(), "1");
      await c.pushImage(`${ns}/b/c`, makeImage(), "1");
      const refused = assertError(await api("DELETE", `namespaces/${ns}`), 409, "CONFLICT");
      assert.deepEqual(refused.detail, { namespace: ns, repositories: 2 });
      assert.equal((await c.get(`/v2/${ns}/a/manifests/1`)).status, 200, "nothing changed");
      const forced = await api("DELETE", `namespaces/${ns}?force=true`);
      assert.equal(forced.status, 200, forced.text());
      assert.deepEqual(forced.json<{ repositories: { repository: string }[] }>().repositories.map((r) => r.repository), [`${ns}/a`, `${ns}/b/c`]);
      assert.deepEqual((await api("GET", `repositories?namespace=${ns}`)).json(), []);
      assert.equal((await c.get(`/v2/${ns}/b/c/manifests/1`)).status, 404);
    });

    if (mode === "on") {
      it("is for administrators only: 401 without credentials, 403 DENIED for other users", async () => {
        const ns = uniqueName("guarded");
        await c.pushImage(`${ns}/app`, makeImage(), "1");
        assert.equal((await c.request("POST", "/api/v1/users", { headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "ursula", password: "ursula-password" }) })).status, 201);
        assert.equal((await c.request("PUT", `/api/v1/namespaces/ursula`, { body: JSON.stringify({ visibility: "private", owner: "ursula" }) })).status, 200);
        const anonymous = new AuthClient(b.url);
        const ursula = new AuthClient(b.url, basic("ursula", "ursula-password"));
        for (const [method, path] of [
          ["GET", "namespaces"],
          ["GET", "repositories"],
          ["GET", `repositories/${ns}/app/tags`],
          ["DELETE", `repositories/${ns}/app/tags/1`],
          ["DELETE", `repositories/${ns}/app`],
          ["DELETE", `namespaces/${ns}?force=true`],
        ] as const) {
          assert.equal((await anonymous.request(method, `/api/v1/${path}`)).status, 401, `${method} ${path} anonymous`);
          assertError(await ursula.request(method, `/api/v1/${path}`), 403, "DENIED", `${method} ${path} as ursula`);
        }
        // Even in her own namespace: deleting repositories wholesale is an administrator's act.
        assertError(await ursula.request("DELETE", "/api/v1/namespaces/ursula?force=true"), 403, "DENIED");
        assert.equal((await c.get(`/v2/${ns}/app/manifests/1`)).status, 200, "nothing changed");
      });

      it("shows declared namespaces and visibility, drops a deleted namespace's records, and audits every change", async () => {
        const ns = uniqueName("audited");
        assert.equal((await c.request("PUT", `/api/v1/namespaces/${ns}`, { body: JSON.stringify({ visibility: "private" }) })).status, 200);
        const image = await c.pushImage(`${ns}/app`, makeImage(), "1");
        await c.pushManifest(`${ns}/app`, "2", image.manifest, image.mediaType);
        await c.pushImage(`${ns}/hidden`, makeImage(), "1");
        assert.equal((await c.request("PUT", `/api/v1/repositories/${ns}/hidden/visibility`, { body: JSON.stringify({ visibility: "public" }) })).status, 200);

        const listed = (await api("GET", "namespaces")).json<Record<string, unknown>[]>().find((n) => n.name === ns);
        assert.deepEqual({ ...listed, createdAt: 0 }, { name: ns, repositories: 2, declared: true, visibility: "private", members: 0, createdAt: 0 });
        assert.deepEqual((await api("GET", `repositories?namespace=${ns}`)).json<{ visibility: string }[]>().map((r) => r.visibility), ["private", "public"]);

        assert.equal((await api("DELETE", `repositories/${ns}/app/tags/2`)).status, 200);
        assert.equal((await api("DELETE", `namespaces/${ns}?force=true`)).status, 200);
        assert.equal((await api("GET", "namespaces")).json<{ name: string }[]>().some((n) => n.name === ns), false, "the record went too");
        const audit = async (action: string) => (await api("GET", `audit?action=${action}&limit=1000`)).json<Record<string, unknown>[]>();
        const tagEvent = (await audit("tag.delete")).find((e) => e.repository === `${ns}/app`);
        assert.equal(tagEvent?.actor, "admin");
        assert.equal(tagEvent?.target, "2");
        assert.deepEqual(tagEvent?.detail, { digest: image.digest });
        assert.deepEqual((await audit("repo.delete")).filter((e) => String(e.repository).startsWith(`${ns}/`)).map((e) => e.repository).sort(), [`${ns}/app`, `${ns}/hidden`]);
        const nsEvent = (await audit("ns.del")).find((e) => e.target === ns);
        assert.equal(nsEvent?.actor, "admin");
        assert.deepEqual(nsEvent?.detail, { force: true, repositories: [`${ns}/app`, `${ns}/hidden`], accessControl: true });

        // Re-pushed under the same name, the repository does not inherit the deleted public override.
        await c.pushImage(`${ns}/hidden`, makeImage(), "1");
        assert.equal((await new AuthClient(b.url).get(`/v2/${ns}/hidden/manifests/1`)).status, 401, "not public any more");
        assert.deepEqual((await api("GET", `repositories?namespace=${ns}`)).json(), [{ name: `${ns}/hidden`, tags: 1, manifests: 1, visibility: "private" }]);
      });
    }
  });
}

describe("/api/v1 catalog endpoints on a pull-only listener (no access control, not loopback)", () => {
  it("lists for anyone and refuses every deletion with 403 DENIED", async () => {
    const b = await startBerth();
    // The same registry behind the guard a non-loopback listener without access control gets.
    const server = createServer(createApp({ registry: b.berth.registry, logger: silentLogger, guard: createOpenGuard(true) }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const name = `${uniqueName("ro")}/app`;
      await new Client(b.url).pushImage(name, makeImage(), "1");
      const c = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      assert.equal((await c.get(`/api/v1/repositories?namespace=${name.split("/")[0]}`)).status, 200);
      assert.equal((await c.get(`/api/v1/repositories/${name}/tags`)).status, 200);
      assertError(await c.delete(`/api/v1/repositories/${name}/tags/1`), 403, "DENIED");
      assertError(await c.delete(`/api/v1/repositories/${name}`), 403, "DENIED");
      assertError(await c.delete(`/api/v1/namespaces/${name.split("/")[0]}?force=true`), 403, "DENIED");
      assert.equal((await c.get(`/v2/${name}/manifests/1`)).status, 200, "nothing changed");
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await b.stop();
    }
  });
});
