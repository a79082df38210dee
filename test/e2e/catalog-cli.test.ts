import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { backendEnv, BERTH_BIN, spawnBerth } from "../helpers/berth.js";
import { run } from "../helpers/tools.js";
import { Client, descriptor, digestOf, json, makeImage, MT, randomBlob, type Image, type Reply, type RequestOptions } from "../http/client.js";

const RULES = `
tagRules:
  - name: releases
    repositories: "locked/*"
    immutable: ["v*"]
`;
const ADMIN = `Basic ${Buffer.from("admin:admin-password").toString("base64")}`;

class AuthClient extends Client {
  constructor(base: string, readonly authorization?: string) {
    super(base);
  }
  override request(method: string, target: string, options: RequestOptions = {}): Promise<Reply> {
    return super.request(method, target, { ...options, headers: { ...options.headers, ...(this.authorization ? { Authorization: this.authorization } : {}) } });
  }
}

/** An image with `shared` as its first layer and a layer of its own. */
function imageWith(shared: Buffer): Image {
  const own = makeImage();
  const layers = [descriptor(MT.ociLayer, shared), ...own.layers];
  const manifest = json({ schemaVersion: 2, mediaType: MT.ociManifest, config: own.config, layers });
  return { ...own, manifest, digest: digestOf(manifest), blobs: [...own.blobs, shared], layers };
}

/**
 * `berth ns|repo|tag …` as an operator runs them: a real `berth serve` owns the data directory
 * (or, with BERTH_TEST_BACKEND=s3-postgres, a bucket and a database) and the commands run beside it.
 */
for (const mode of ["on", "off"] as const) {
  describe(`berth ns/repo/tag commands, access control ${mode}`, () => {
    it("lists, refuses what it must with one line and exit 2, deletes, and leaves the space to berth gc", async () => {
      const dir = await mkdtemp(join(tmpdir(), "berth-catalog-cli-"));
      const data = join(dir, "data");
      await writeFile(join(dir, "berth.yaml"), RULES);
      const backend = await backendEnv();
      const env = {
        ...backend.env,
        BERTH_CONFIG: join(dir, "berth.yaml"),
        ...(mode === "on" ? { BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" } : {}),
      };
      const berth = async (...args: string[]) => {
        const r = await run(process.execPath, [BERTH_BIN, ...args, "--data", data], { env, allowFail: true, timeoutMs: 60_000 });
        return { code: r.code, stdout: r.stdout, stderr: r.stderr };
      };
      const jsonLines = (text: string) => text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      const server = await spawnBerth(data, env);
      try {
        const c = new AuthClient(server.url, mode === "on" ? ADMIN : undefined);
        const shared = randomBlob(500);
        const app = imageWith(shared);
        const keep = imageWith(shared);
        await c.pushImage("team/app", app, "1.0");
        await c.pushManifest("team/app", "latest", app.manifest, app.mediaType);
        await c.pushImage("team/tools/cli", makeImage(), "x");
        await c.pushImage("other/keep", keep, "1");
        await c.pushImage("locked/app", makeImage(), "v1");
        if (mode === "on") {
          assert.equal((await c.request("PUT", "/api/v1/namespaces/team", { body: JSON.stringify({ visibility: "public" }) })).status, 200);
        }

        const nsList = await berth("ns", "list");
        assert.equal(nsList.code, 0, nsList.stderr);
        assert.match(nsList.stdout, /^NAMESPACE\s+REPOSITORIES\s+VISIBILITY\s+OWNER\s+MEMBERS$/m);
        assert.match(nsList.stdout, mode === "on" ? /^team\s+2\s+public\s+-\s+0$/m : /^team\s+2\s+-\s+-\s+-$/m);
        if (mode === "on") {
          // The registry's own access-control data decides what is listed, not whether BERTH_AUTH is set here.
          const { BERTH_AUTH: _, ...withoutFlag } = env;
          const r = await run(process.execPath, [BERTH_BIN, "ns", "list", "--data", data], { env: withoutFlag, allowFail: true, timeoutMs: 60_000 });
          assert.match(r.stdout, /^team\s+2\s+public\s+-\s+0$/m, r.stdout + r.stderr);
        }
        assert.deepEqual(jsonLines((await berth("ns", "list", "--json")).stdout).map((n) => [n.name, n.repositories]), [
          ["locked", 1],
          ["other", 1],
          ["team", 2],
        ]);

        const repoList = await berth("repo", "list", "--namespace", "team", "--json");
        assert.equal(repoList.code, 0, repoList.stderr);
        const vis = (v: string) => (mode === "on" ? { visibility: v } : {});
        assert.deepEqual(jsonLines(repoList.stdout), [
          { name: "team/app", tags: 2, manifests: 1, ...vis("public") },
          { name: "team/tools/cli", tags: 1, manifests: 1, ...vis("public") },
        ]);
        const table = await berth("repo", "list");
        assert.match(table.stdout, mode === "on" ? /^team\/app\s+2\s+1\s+public$/m : /^team\/app\s+2\s+1$/m);
        const tags = await berth("tag", "list", "team/app");
        assert.match(tags.stdout, new RegExp(`^latest\\s+${app.digest}\\s+-$`, "m"));

        // Refusals: one line on stderr, exit 2, nothing changed.
        const refusals: [string[], RegExp][] = [
          [["ns", "del", "team"], /holds 2 repositories.*force/],
          [["tag", "delete", "locked/app:v1"], /immutable under tag rule "releases"/],
          [["repo", "delete", "locked/app"], /immutable under tag rule "releases"/],
          [["repo", "delete", "team/nope"], /no repository named team\/nope/],
          [["tag", "delete", "team/app:nope"], /no tag nope in team\/app/],
          [["tag", "delete", "team/app"], /NAME:TAG/],
          [["repo", "delete"], /missing required argument 'repo'/],
          [["tag", "list", "a", "b"], /unexpected argument 'b'/],
          [["repo", "list", "--force"], /unknown option '--force'/],
          [["repo", "delete", "team/app", "--namespace", "team"], /unknown option '--namespace'/],
        ];
        for (const [args, message] of refusals) {
          const r = await berth(...args);
          assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
          assert.match(r.stderr, message, args.join(" "));
          // One line from berth; on S3 the AWS SDK's Node version notice may come too, folded into one `warning:` line.
          const lines = r.stderr.split("\n").filter((l) => l !== "");
          assert.equal(lines.filter((l) => l.startsWith("berth: ")).length, 1, `${args.join(" ")}: one line: ${r.stderr}`);
          assert.ok(lines.every((l) => /^(berth|warning): /.test(l)), `${args.join(" ")}: nothing but one-line messages: ${r.stderr}`);
        }
        assert.deepEqual(jsonLines((await berth("repo", "list", "--json")).stdout).map((r) => [r.name, r.tags]), [
          ["locked/app", 1],
          ["other/keep", 1],
          ["team/app", 2],
          ["team/tools/cli", 1],
        ]);

        const tagDel = await berth("tag", "delete", "team/app:latest");
        assert.equal(tagDel.code, 0, tagDel.stderr);
        assert.equal((await c.get("/v2/team/app/manifests/latest")).status, 404);
        assert.equal((await c.get("/v2/team/app/manifests/1.0")).status, 200, "the manifest stays");

        const repoDel = await berth("repo", "delete", "team/app", "--json");
        assert.equal(repoDel.code, 0, repoDel.stderr);
        assert.deepEqual(jsonLines(repoDel.stdout), [{ repository: "team/app", tags: 1, manifests: 1, links: 3 }]);
        assert.equal((await c.get("/v2/team/app/manifests/1.0")).status, 404, "a deleted repository's image no longer pulls");

        const gc = await berth("gc", "--json");
        assert.equal(gc.code, 0, gc.stderr);
        const swept = (JSON.parse(gc.stdout) as { blobs: { digest: string }[] }).blobs.map((b) => b.digest);
        assert.ok(swept.includes(app.layers[1]!.digest) && swept.includes(app.config.digest), "its own blobs are reclaimed");
        assert.ok(!swept.includes(app.layers[0]!.digest), "the layer other/keep shares is not");
        for (const d of [keep.config, ...keep.layers]) assert.equal((await c.get(`/v2/other/keep/blobs/${d.digest}`)).status, 200);

        const nsDel = await berth("ns", "del", "team", "--force");
        assert.equal(nsDel.code, 0, nsDel.stderr);
        assert.match(nsDel.stdout, /deleted namespace team: 1 repository/);
        assert.match(nsDel.stdout, /team\/tools\/cli: 1 tag, 1 manifest/);
        assert.deepEqual(jsonLines((await berth("ns", "list", "--json")).stdout).map((n) => n.name), ["locked", "other"]);

        if (mode === "on") {
          const audit = jsonLines((await berth("audit", "--limit", "50")).stdout).filter((e) => e.actor === "cli");
          assert.deepEqual(audit.map((e) => [e.action, e.repository ?? e.target]).reverse(), [
            ["tag.delete", "team/app"],
            ["repo.delete", "team/app"],
            ["gc", undefined],
            ["repo.delete", "team/tools/cli"],
            ["ns.del", "team"],
          ]);
        }
      } finally {
        await server.stop();
        await backend.cleanup();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
