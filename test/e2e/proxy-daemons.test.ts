// The pull-through cache as the Docker Hub mirror of the daemons: dockerd with --registry-mirror
// (sends `library/NAME` with no prefix) and containerd's ctr with a hosts.toml (sends `?ns=docker.io`).
// registry-1.docker.io is unreachable here, so a pull that succeeds was served by the mirror.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startDockerd, type Dockerd } from "../helpers/dockerd.js";
import { sha256 } from "../helpers/fixtures.js";
import { writeImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { assertCached, settledLog, startProxySetup, upstreamRequestsFor, type ProxySetup } from "./proxy-support.js";
import { containersEnv, lowercaseTempDir, removeTree, requestLog, runBytes, showRequests } from "./support.js";

const KiB = 1024;
const NAMESPACE = "berth-proxy";

describe("pull-through cache as the Docker Hub mirror of dockerd and containerd", { skip: skipUnlessTools("docker-registry", "openssl", "dockerd", "docker", "ctr", "skopeo") }, () => {
  let root: string;
  let p: ProxySetup;
  let dockerd: Dockerd;
  let certsDir: string;

  const docker = (...args: string[]) => run("docker", args, { env: dockerd.env, timeoutMs: 120_000 });
  const ctr = (args: string[], allowFail = false) =>
    run("ctr", ["--address", dockerd.containerdAddress, "-n", NAMESPACE, ...args], { timeoutMs: 120_000, allowFail });

  /** `certs.d/<registry>/hosts.toml` naming Berth as a pull/resolve host in front of `server`. */
  async function hostsToml(registry: string, server: string): Promise<void> {
    await mkdir(join(certsDir, registry), { recursive: true });
    await writeFile(join(certsDir, registry, "hosts.toml"), [
      `server = "${server}"`,
      "",
      `[host."http://${p.berth.host}"]`,
      '  capabilities = ["pull", "resolve"]',
      "",
    ].join("\n"));
  }

  /** The digest `ctr images ls` shows for `ref`. */
  async function listedDigest(ref: string): Promise<string | undefined> {
    const { stdout } = await ctr(["images", "ls"]);
    return stdout.split("\n").map((l) => l.trim().split(/\s+/)).find((cols) => cols[0] === ref)?.[2];
  }

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-proxy-daemons");
    certsDir = join(root, "certs.d");
    p = await startProxySetup(join(root, "berth"));
    dockerd = await startDockerd({ extraArgs: ["--registry-mirror", p.berth.url] });
  });

  after(async () => {
    await dockerd?.stop();
    await p?.stop();
    if (root) await removeTree(root);
  });

  it("docker pull hello:1.0 with --registry-mirror is served by Berth, which keeps it in docker.io/library/hello", async () => {
    const hello = await p.hub.push("library/hello", "1.0", { layers: 2, layerBytes: 256 * KiB });
    await p.hub.clearLogs();
    const from = requestLog(p.berth).length;
    await docker("pull", "hello:1.0");
    const info = JSON.parse((await docker("image", "inspect", "--format", "{{json .}}", "hello:1.0")).stdout) as { Id: string; RepoDigests: string[] };
    assert.equal(info.Id, hello.configDigest, "dockerd holds the image seeded on the upstream");
    assert.deepEqual(info.RepoDigests, [`hello@${hello.manifestDigest}`]);

    const sent = await settledLog(p.berth, from);
    // dockerd resolves the tag with a HEAD, then GETs the manifest by digest
    const tag = sent.find((r) => r.path === "/v2/library/hello/manifests/1.0");
    assert.ok(tag && tag.status === 200, `dockerd asked the mirror for library/hello, no prefix:\n${showRequests(sent)}`);
    assert.ok(sent.every((r) => r.path === "/v2/" || r.path.startsWith("/v2/library/hello/")), `and nothing else:\n${showRequests(sent)}`);
    for (const layer of hello.layerDigests) assert.equal(p.hub.blobGets(layer), 1, `${layer} fetched from the upstream once`);
    await assertCached(p.berth.url, "docker.io/library/hello", "1.0", hello.manifestDigest);

    await docker("rmi", "hello:1.0");
    const before = p.hub.requests().length;
    await docker("pull", "hello:1.0");
    assert.equal(JSON.parse((await docker("image", "inspect", "--format", "{{json .Id}}", "hello:1.0")).stdout), hello.configDigest);
    assert.deepEqual(p.hub.requests().slice(before).filter((r) => r.path !== "/v2/").map((r) => r.path), [], "pulled again from the cache alone");
  });

  it("ctr image pull --hosts-dir with a docker.io hosts.toml sends ?ns=docker.io and gets the image from the upstream through Berth", async () => {
    const redis = await p.hub.push("library/redis", "7", { layerBytes: 300 * KiB });
    await p.hub.clearLogs();
    await hostsToml("docker.io", "https://registry-1.docker.io");
    const from = requestLog(p.berth).length;
    await ctr(["images", "pull", "--hosts-dir", certsDir, "docker.io/library/redis:7"]);
    assert.equal(await listedDigest("docker.io/library/redis:7"), redis.manifestDigest);
    const layer = await runBytes("ctr", ["--address", dockerd.containerdAddress, "-n", NAMESPACE, "content", "get", redis.layerDigests[0]!]);
    assert.equal(sha256(layer), redis.layerDigests[0], "containerd holds the upstream's layer, intact");

    const sent = await settledLog(p.berth, from);
    const manifest = sent.find((r) => r.path.startsWith("/v2/library/redis/manifests/7?") && r.status === 200);
    assert.ok(manifest && /[?&]ns=docker\.io(&|$)/.test(manifest.path), `ctr named the registry with ?ns=docker.io:\n${showRequests(sent)}`);
    assert.equal(p.hub.blobGets(redis.layerDigests[0]!), 1);
    await assertCached(p.berth.url, "docker.io/library/redis", "7", redis.manifestDigest);
  });

  it("ctr with a ghcr.io hosts.toml sends ?ns=ghcr.io and gets the image from the second upstream", async () => {
    const app = await p.ghcr.push("org/app", "v1", { layerBytes: 100 * KiB });
    await p.ghcr.clearLogs();
    await p.hub.clearLogs();
    await hostsToml("ghcr.io", "https://ghcr.io");
    await ctr(["images", "pull", "--hosts-dir", certsDir, "ghcr.io/org/app:v1"]);
    assert.equal(await listedDigest("ghcr.io/org/app:v1"), app.manifestDigest);
    assert.equal(p.ghcr.blobGets(app.layerDigests[0]!), 1, "the layer came from ghcr.io's upstream");
    assert.deepEqual(upstreamRequestsFor(p.hub, "org/app"), [], "not from the default upstream");
    await assertCached(p.berth.url, "ghcr.io/org/app", "v1", app.manifestDigest);
  });

  it("ctr with a quay.io hosts.toml (?ns=quay.io, no such upstream) gets Berth's own repositories only", async () => {
    await hostsToml("quay.io", "https://quay.io");
    // A repository of Berth's own, pushed as usual.
    const skopeoEnv = await containersEnv(join(root, "containers"), "vfs");
    const tool = await writeImageLayout(join(root, "tool"), { ref: "1", layers: [{ files: { "etc/tool": "local\n" } }] });
    await run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${tool.dir}:1`, `docker://${p.berth.host}/org/tool:1`], { env: skopeoEnv, timeoutMs: 60_000 });
    await ctr(["images", "pull", "--hosts-dir", certsDir, "quay.io/org/tool:1"]);
    assert.equal(await listedDigest("quay.io/org/tool:1"), tool.manifestDigest, "served from Berth's local org/tool");

    // library/redis exists upstream (and in Berth's docker.io/ cache), but not as a local repository.
    await p.hub.push("library/redis", "7", { layerBytes: 1 * KiB });
    await p.hub.clearLogs();
    const from = requestLog(p.berth).length;
    const refused = await ctr(["images", "pull", "--hosts-dir", certsDir, "quay.io/library/redis:7"], true);
    assert.notEqual(refused.code, 0, "ctr fails: Berth has no local library/redis and quay.io itself is unreachable");
    const sent = await settledLog(p.berth, from);
    const asked = sent.filter((r) => r.path.startsWith("/v2/library/redis/manifests/7?"));
    assert.ok(asked.length > 0 && asked.every((r) => r.status === 404 && /[?&]ns=quay\.io/.test(r.path)), `Berth answered ?ns=quay.io with 404:\n${showRequests(sent)}`);
    assert.deepEqual(upstreamRequestsFor(p.hub, "library/redis"), [], "the docker.io upstream was not asked");
  });
});
