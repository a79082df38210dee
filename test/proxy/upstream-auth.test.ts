// The pull-through cache authenticating to its upstreams (the Docker token flow of the upstream
// fixture): anonymous pull tokens, configured credentials for a private upstream, a wrong password,
// tokens reused per repository, and the password kept out of logs and `berth config`. Berth runs
// as a process (bin/berth.js) so everything it prints is seen.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { backendEnv, BERTH_BIN, spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type SeededImage, type Upstream } from "../helpers/upstream.js";
import { blobsOf, firstError, get, manifestOf, pullAll } from "./hub-support.js";

const USER = "berth-bot";

describe("pull-through cache: upstream authentication", { skip: skipUnlessTools("docker-registry", "skopeo", "openssl") }, () => {
  const password = `pw-${randomBytes(12).toString("hex")}`;
  const wrong = `wrong-${randomBytes(12).toString("hex")}`;
  let hub: Upstream;
  let privateHub: Upstream;
  let alpine: SeededImage;
  let busybox: SeededImage;
  let app: SeededImage;
  let dir: string;
  let configFile: string;
  let berth: BerthProcess;
  let cleanup = async () => {};

  before(async () => {
    [hub, privateHub] = await Promise.all([startUpstream(), startUpstream({ anonymousPull: false, users: { [USER]: password } })]);
    [alpine, busybox, app] = await Promise.all([
      hub.push("library/alpine", "latest", { layerBytes: 64 << 10 }),
      hub.push("library/busybox", "latest", { layerBytes: 16 << 10 }),
      privateHub.push("team/app", "v1", { layerBytes: 64 << 10 }),
    ]);
    await Promise.all([hub.clearLogs(), privateHub.clearLogs()]);
    dir = await mkdtemp(join(tmpdir(), "berth-proxy-auth-"));
    const passwordFile = join(dir, "upstream-password");
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    configFile = join(dir, "config.json");
    await writeFile(configFile, JSON.stringify({
      proxy: {
        upstreams: [
          { name: "docker.io", url: hub.url, default: true, tagTtl: "0s" },
          { name: "private.example", url: privateHub.url, username: USER, passwordFile },
          { name: "wrong.example", url: privateHub.url, username: USER, password: wrong },
          { name: "anonymous.example", url: privateHub.url },
        ],
      },
    }));
    const backend = await backendEnv();
    cleanup = backend.cleanup;
    berth = await spawnBerth(join(dir, "data"), { ...backend.env, BERTH_CONFIG: configFile, BERTH_LOG_LEVEL: "debug", BERTH_FSYNC: "false" });
  });

  after(async () => {
    await berth?.stop();
    await cleanup();
    await hub?.stop();
    await privateHub?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("pulls from a public upstream with one anonymous pull token per repository, reused while it lasts", async () => {
    const first = await pullAll(berth.url, "docker.io/library/alpine", "latest");
    assert.equal(first.manifest.status, 200);
    assert.equal(first.manifest.headers.get("docker-content-digest"), alpine.manifestDigest);
    assert.deepEqual(first.blobs.map((b) => [b.status, b.digest]), blobsOf(alpine).map((d) => [200, d]));
    assert.deepEqual(hub.tokenLog().map((t) => [t.account, t.scopes, t.status]), [[undefined, ["repository:library/alpine:pull"], 200]]);

    for (let i = 0; i < 4; i++) {
      const again = await manifestOf(berth.url, "alpine", "latest");
      assert.equal(again.headers.get("cache-status"), "Berth; fwd=stale; fwd-status=200", "tagTtl 0s: revalidated every time");
      assert.equal((await get(`${berth.url}/v2/docker.io/library/alpine/blobs/${alpine.layerDigests[0]}`, { method: "HEAD" })).status, 200);
    }
    const heads = hub.requests().filter((r) => r.method === "HEAD" && r.path === "/v2/library/alpine/manifests/latest" && r.status === 200);
    assert.equal(heads.length, 4);
    assert.equal(hub.tokenRequests(), 1, "the token of library/alpine was reused");

    assert.equal((await pullAll(berth.url, "docker.io/library/busybox", "latest")).manifest.status, 200);
    assert.deepEqual(hub.tokenLog().map((t) => t.scopes[0]), ["repository:library/alpine:pull", "repository:library/busybox:pull"]);
    assert.equal((await manifestOf(berth.url, "docker.io/library/busybox", busybox.manifestDigest)).status, 200);
    assert.equal(hub.tokenRequests(), 2);
  });

  it("pulls from a private upstream with the configured username and passwordFile", async () => {
    const pulled = await pullAll(berth.url, "private.example/team/app", "v1");
    assert.equal(pulled.manifest.status, 200, pulled.manifest.body.toString());
    assert.equal(pulled.manifest.headers.get("docker-content-digest"), app.manifestDigest);
    assert.deepEqual(pulled.blobs.map((b) => b.digest), blobsOf(app));
    const tokens = privateHub.tokenLog();
    assert.ok(tokens.length > 0);
    assert.ok(tokens.every((t) => t.account === USER && t.status === 200), JSON.stringify(tokens));
  });

  it("answers a wrong password, or none, with 403 DENIED naming the upstream and the setting to check, never a 500", async () => {
    for (const [name, index] of [["wrong.example", 2], ["anonymous.example", 3]] as const) {
      const answers = [
        await manifestOf(berth.url, `${name}/team/app`, "v1"),
        await manifestOf(berth.url, `${name}/team/app`, app.manifestDigest),
        await get(`${berth.url}/v2/${name}/team/app/blobs/${app.layerDigests[0]}`),
        await get(`${berth.url}/v2/${name}/team/app/tags/list`),
      ];
      for (const answer of answers) {
        assert.equal(answer.status, 403, `${name}: ${answer.body}`);
        const error = firstError(answer);
        assert.equal(error.code, "DENIED");
        assert.ok(error.message.includes(`upstream ${name} (${privateHub.url})`), error.message);
        assert.ok(error.message.includes(`proxy.upstreams[${index}]`), error.message);
        assert.match(error.message, /credentials/);
      }
    }
    const refused = privateHub.tokenLog().filter((t) => t.account === USER && t.status === 401);
    assert.equal(refused.length, 1, "the wrong password was tried once, then Berth left the upstream alone (an upstream may lock an account it keeps refusing)");
  });

  it("never shows the password: not in the server's output, not in `berth config`", async () => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const secrets = [password, wrong, Buffer.from(`${USER}:${password}`).toString("base64"), Buffer.from(`${USER}:${wrong}`).toString("base64")];
    const output = berth.output.join("\n");
    assert.ok(berth.output.length > 5, "the server logged (debug level)");
    for (const secret of secrets) assert.ok(!output.includes(secret), `the server printed a secret:\n${output}`);

    const shown = await run(process.execPath, [BERTH_BIN, "config"], { env: { BERTH_CONFIG: configFile } });
    for (const secret of secrets) assert.ok(!shown.stdout.includes(secret) && !shown.stderr.includes(secret), shown.stdout);
    const upstreams = (JSON.parse(shown.stdout) as { proxy: { upstreams: { name: string; username?: string; password?: string; passwordFile?: string }[] } }).proxy.upstreams;
    assert.equal(upstreams[1]!.username, USER);
    assert.equal(upstreams[1]!.password, undefined, "a password read from a file is not shown at all");
    assert.equal(upstreams[1]!.passwordFile, join(dir, "upstream-password"));
    assert.equal(upstreams[2]!.password, "********");
  });
});
