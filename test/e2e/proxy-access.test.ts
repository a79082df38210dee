// The pull-through cache with access control on: reads of upstream content are authorized on the
// cache repository (`docker.io/library/x`, namespace `docker.io`), whatever form the client used. A
// reader of that namespace pulls through the prefix (skopeo --src-creds) and the mirror form (podman
// logged in to Berth); anonymous clients (skopeo, dockerd) once it is public; a user without a role
// there is refused before anything is asked upstream; a push under `docker.io/` is refused, saying it
// is a pull-through cache, while pushes to new repositories elsewhere work for everyone.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startDockerd } from "../helpers/dockerd.js";
import { writeImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import type { SeededImage } from "../helpers/upstream.js";
import { berthCli, clientSays } from "./login-support.js";
import { readDirImage, settledLog, startProxySetup, upstreamRequestsFor, type ProxySetup } from "./proxy-support.js";
import { containersEnv, lowercaseTempDir, removeTree, requestLog, showRequests } from "./support.js";

const KiB = 1024;
const suffix = randomBytes(6).toString("hex");
const PASSWORDS = { admin: `admin-pw-${suffix}`, reader: `reader-pw-${suffix}`, outsider: `outsider-pw-${suffix}` };

describe("pull-through cache with access control on", { skip: skipUnlessTools("docker-registry", "openssl", "skopeo", "podman") }, () => {
  let root: string;
  let p: ProxySetup;
  let env: Record<string, string>;
  let alpine: SeededImage;
  let copies = 0;

  const skopeo = (args: string[], allowFail = false) => run("skopeo", args, { env, allowFail, timeoutMs: 120_000 });
  const pullAs = (creds: string, name: string) => {
    const dest = join(root, `copy-${++copies}`);
    return {
      dest,
      result: skopeo(["copy", "--src-tls-verify=false", "--src-creds", creds, `docker://${p.berth.host}/${name}`, `dir:${dest}`], true),
    };
  };

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-proxy-access");
    env = await containersEnv(join(root, "containers"), "vfs");
    p = await startProxySetup(join(root, "berth"), { BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: PASSWORDS.admin });
    await berthCli(p.data, ["user", "add", "reader", "--password-stdin"], `${PASSWORDS.reader}\n`);
    await berthCli(p.data, ["user", "add", "outsider", "--password-stdin"], `${PASSWORDS.outsider}\n`);
    await berthCli(p.data, ["ns", "add", "docker.io"]);
    await berthCli(p.data, ["ns", "member", "add", "docker.io", "reader", "--role", "reader"]);
    alpine = await p.hub.push("library/alpine", "3.20", { layerBytes: 200 * KiB });
    await p.hub.clearLogs();
  });

  after(async () => {
    await p?.stop();
    if (root) await removeTree(root);
  });

  it("a user without a role in docker.io is refused, and Berth asks the upstream nothing for them", async () => {
    const from = requestLog(p.berth).length;
    const { result } = pullAs(`outsider:${PASSWORDS.outsider}`, "docker.io/library/alpine:3.20");
    const refused = await result;
    assert.notEqual(refused.code, 0, "outsider's pull fails");
    assert.match(clientSays(refused.stderr), /denied|unauthori[sz]ed|401|403/i);
    const sent = await settledLog(p.berth, from);
    assert.ok(sent.some((r) => r.path.startsWith("/v2/docker.io/library/alpine/") && (r.status === 401 || r.status === 403)), `refused:\n${showRequests(sent)}`);
    assert.deepEqual(upstreamRequestsFor(p.hub, "library/alpine"), [], "nothing was fetched for a refused caller");
  });

  it("a reader of namespace docker.io pulls docker.io/library/alpine through the prefix with skopeo --src-creds", async () => {
    const { dest, result } = pullAs(`reader:${PASSWORDS.reader}`, "docker.io/library/alpine:3.20");
    const pulled = await result;
    assert.equal(pulled.code, 0, `reader's pull succeeds: ${clientSays(pulled.stderr)}`);
    const copy = await readDirImage(dest);
    assert.equal(copy.manifestDigest, alpine.manifestDigest);
    assert.deepEqual(copy.blobs, [alpine.configDigest, ...alpine.layerDigests].sort());
    assert.equal(p.hub.blobGets(alpine.layerDigests[0]!), 1, "fetched from the upstream once");

    // docker.io/alpine is read from (and authorized on) docker.io/library/alpine: the token must say so
    const short = pullAs(`reader:${PASSWORDS.reader}`, "docker.io/alpine:3.20");
    const again = await short.result;
    assert.equal(again.code, 0, `the one-segment name works too: ${clientSays(again.stderr)}`);
    assert.equal((await readDirImage(short.dest)).manifestDigest, alpine.manifestDigest);
  });

  it("a push to docker.io/… is refused, even for the admin, with a message naming the pull-through cache", async () => {
    const image = await writeImageLayout(join(root, "mine"), { ref: "1", layers: [{ files: { "etc/mine": "mine\n" } }] });
    const from = requestLog(p.berth).length;
    const pushed = await skopeo(
      ["copy", "--dest-tls-verify=false", "--dest-creds", `admin:${PASSWORDS.admin}`, `oci:${image.dir}:1`, `docker://${p.berth.host}/docker.io/library/mine:1`],
      true,
    );
    assert.notEqual(pushed.code, 0, "the push fails");
    assert.match(pushed.stderr, /pull-through cache of http:\/\/127\.0\.0\.1:\d+/, `skopeo shows Berth's reason: ${clientSays(pushed.stderr)}`);
    const sent = await settledLog(p.berth, from);
    const writes = sent.filter((r) => ["POST", "PATCH", "PUT"].includes(r.method) && r.path.startsWith("/v2/"));
    assert.ok(writes.length > 0 && writes.every((r) => r.status === 403), `every write was refused with 403:\n${showRequests(sent)}`);
  });

  it("pushes to new repositories outside docker.io/ work for users with and without a role in docker.io", async () => {
    // skopeo first HEADs each blob in the repository it pushes to: a name that is not local yet, so
    // in the mirror form it could be taken for the default upstream's (docker.io/<name>).
    const image = await writeImageLayout(join(root, "own"), { ref: "1", layers: [{ files: { "etc/own": "own\n" } }] });
    for (const [user, password] of [["outsider", PASSWORDS.outsider], ["reader", PASSWORDS.reader]] as const) {
      const pushed = await skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", `${user}:${password}`, `oci:${image.dir}:1`, `docker://${p.berth.host}/${user}/app:1`], true);
      assert.equal(pushed.code, 0, `${user} pushes to ${user}/app: ${clientSays(pushed.stderr)}`);
      const { dest, result } = pullAs(`${user}:${password}`, `${user}/app:1`);
      assert.equal((await result).code, 0);
      assert.equal((await readDirImage(dest)).manifestDigest, image.manifestDigest, `${user} pulls it back from Berth's own ${user}/app`);
      assert.deepEqual(upstreamRequestsFor(p.hub, `${user}/app`), [], `the upstream was not asked about ${user}/app`);
    }
  });

  it("podman logged in to Berth pulls docker.io/library/NAME through a registries.conf mirror as a reader of docker.io; an outsider cannot", async () => {
    const busybox = await p.hub.push("library/busybox", "1.36", { layerBytes: 100 * KiB });
    const conf = join(root, "registries.conf");
    await writeFile(conf, `[[registry]]\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "${p.berth.host}"\ninsecure = true\n`);
    const podmanAs = async (user: string, password: string) => {
      const authFile = join(root, `auth-${user}.json`);
      await writeFile(authFile, JSON.stringify({ auths: {} }));
      const podmanEnv = { ...env, CONTAINERS_REGISTRIES_CONF: conf, REGISTRY_AUTH_FILE: authFile };
      await run("podman", ["login", "--tls-verify=false", "-u", user, "--password-stdin", p.berth.host], { env: podmanEnv, input: `${password}\n`, timeoutMs: 60_000 });
      return run("podman", ["pull", "--quiet", "docker.io/library/busybox:1.36"], { env: podmanEnv, allowFail: true, timeoutMs: 120_000 });
    };
    const refused = await podmanAs("outsider", PASSWORDS.outsider);
    assert.notEqual(refused.code, 0, "outsider's pull fails (docker.io itself is unreachable)");
    assert.deepEqual(upstreamRequestsFor(p.hub, "library/busybox"), [], "nothing fetched for outsider");

    const from = requestLog(p.berth).length;
    const pulled = await podmanAs("reader", PASSWORDS.reader);
    assert.equal(pulled.code, 0, `reader's pull through the mirror succeeds: ${clientSays(pulled.stderr)}`);
    assert.equal(pulled.stdout.trim(), busybox.configDigest.slice("sha256:".length), "podman printed the image id seeded upstream");
    const sent = await settledLog(p.berth, from);
    assert.ok(sent.some((r) => r.path === "/v2/library/busybox/manifests/1.36" && r.status === 200), `served in the mirror form:\n${showRequests(sent)}`);
  });

  it("anonymous pulls in the mirror form (what dockerd sends) work once namespace docker.io is public, and not before", async () => {
    const anonymous = () => {
      const dest = join(root, `copy-${++copies}`);
      return { dest, result: skopeo(["copy", "--src-tls-verify=false", `docker://${p.berth.host}/library/alpine:3.20`, `dir:${dest}`], true) };
    };
    const refused = await anonymous().result;
    assert.notEqual(refused.code, 0, "docker.io is private: anonymous pulls are refused");
    await berthCli(p.data, ["ns", "add", "docker.io", "--public"]);
    const fromLog = requestLog(p.berth).length;
    const { dest, result } = anonymous();
    const pulled = await result;
    assert.equal(pulled.code, 0, `anonymous pull of library/alpine once docker.io is public: ${clientSays(pulled.stderr)}`);
    assert.equal((await readDirImage(dest)).manifestDigest, alpine.manifestDigest);
    // the token asked for library/alpine already carries pull on docker.io/library/alpine: no client
    // has to retry with the scope of an insufficient_scope challenge (skopeo does; dockerd does not)
    const sent = await settledLog(p.berth, fromLog);
    const reads = sent.filter((r) => r.path.startsWith("/v2/library/alpine/"));
    assert.ok(reads.length >= 3 && reads.every((r) => r.status === 200), `every read answered with the first token:\n${showRequests(sent)}`);
  });

  it("dockerd with --registry-mirror pulls anonymously through Berth once docker.io is public", { skip: skipUnlessTools("dockerd", "docker") }, async () => {
    await berthCli(p.data, ["ns", "add", "docker.io", "--public"]);
    const hello = await p.hub.push("library/hello", "1.0", { layerBytes: 100 * KiB });
    const dockerd = await startDockerd({ extraArgs: ["--registry-mirror", p.berth.url] });
    try {
      await run("docker", ["pull", "hello:1.0"], { env: dockerd.env, timeoutMs: 120_000 });
      const id = JSON.parse((await run("docker", ["image", "inspect", "--format", "{{json .Id}}", "hello:1.0"], { env: dockerd.env })).stdout) as string;
      assert.equal(id, hello.configDigest, "dockerd got the image through the mirror (registry-1.docker.io is unreachable)");
    } finally {
      await dockerd.stop();
    }
  });
});
