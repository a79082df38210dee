import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { assertError, makeImage } from "./client.js";
import { AuthClient, basic, createUser, declareNamespace } from "./auth-client.js";

const ADMIN = basic("admin", "admin-password");

interface NamespaceView {
  name: string;
  repositories: number;
  size: number;
  quota?: { limit: number; used: number };
  visibility: string;
  owner?: string;
  role?: string;
}

/** GET /api/v1/browse/namespaces (http/handlers/namespaces-browse.ts). */
for (const mode of ["on", "off"] as const) {
  describe(`GET /api/v1/browse/namespaces, access control ${mode}`, () => {
    let dir: string;
    let b: TestBerth;
    let admin: AuthClient;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "berth-browse-ns-"));
      await writeFile(join(dir, "berth.yaml"), JSON.stringify({ quotas: { rules: [{ name: "team", namespace: "team", limit: "1MiB" }] } }));
      b = await startBerth({ BERTH_CONFIG: join(dir, "berth.yaml"), ...(mode === "on" ? { BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" } : {}) });
      admin = new AuthClient(b.url, mode === "on" ? ADMIN : undefined);
      if (mode === "on") {
        await createUser(admin, "olga", "olga-password");
        await declareNamespace(admin, "team", "private", "olga");
        await declareNamespace(admin, "pub", "public");
        await declareNamespace(admin, "empty", "private");
        await createUser(admin, "rita", "rita-password", { namespace: "team", role: "reader" });
      }
      for (const repo of ["team/app", "team/web", "pub/x", "hidden/y", "mixed/a", "mixed/b"]) await admin.pushImage(repo, makeImage(), "v1");
      if (mode === "on") assert.equal((await admin.api("PUT", "repositories/mixed/b/visibility", { visibility: "public" })).status, 200);
    });
    after(async () => {
      await b?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    const list = async (c: AuthClient) => {
      const res = await c.get("/api/v1/browse/namespaces");
      assert.equal(res.status, 200, res.text());
      return res.json<{ items: NamespaceView[] }>().items;
    };

    it("lists every namespace to an administrator (everyone, with access control off) with counts, size and quota use", async () => {
      const items = await list(admin);
      const names = items.map((n) => n.name);
      assert.deepEqual(names, mode === "on" ? ["empty", "hidden", "mixed", "pub", "team"] : ["hidden", "mixed", "pub", "team"]);
      const team = items.find((n) => n.name === "team")!;
      assert.equal(team.repositories, 2);
      assert.ok(team.size > 0);
      assert.deepEqual(team.quota, { limit: 1024 * 1024, used: team.size });
      if (mode === "on") {
        assert.equal(team.visibility, "private");
        assert.equal(team.owner, "olga");
        assert.deepEqual(items.find((n) => n.name === "empty"), { name: "empty", repositories: 0, size: 0, visibility: "private" });
        assert.equal(items.find((n) => n.name === "pub")!.visibility, "public");
      } else {
        assert.ok(items.every((n) => n.visibility === "public"));
        assertError(await admin.api("GET", "runs"), 404, "UNSUPPORTED", "no run history without the audit log");
      }
    });

    if (mode === "on") {
      it("lists to others what they are members of, what is public, and namespaces holding a repository they may pull, with their role", async () => {
        const rita = await list(new AuthClient(b.url, basic("rita", "rita-password")));
        assert.deepEqual(rita.map((n) => [n.name, n.role]), [["mixed", undefined], ["pub", undefined], ["team", "reader"]]);
        const olga = await list(new AuthClient(b.url, basic("olga", "olga-password")));
        assert.equal(olga.find((n) => n.name === "team")!.role, "owner");
        const anonymous = await list(new AuthClient(b.url));
        assert.deepEqual(anonymous.map((n) => n.name), ["mixed", "pub"]);
        assertError(await new AuthClient(b.url, basic("rita", "wrong-password")).get("/api/v1/browse/namespaces"), 401, "UNAUTHORIZED");
      });
    }
  });
}
