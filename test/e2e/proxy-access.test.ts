// The pull-through cache with access control on: reads of upstream content are authorized on the
// cache repository (`docker.io/library/x`, namespace `docker.io`), so a reader of that namespace
// pulls through with skopeo --src-creds, a user without a role there is refused before anything is
// asked upstream, and a push under `docker.io/` is refused, saying it is a pull-through cache.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import type { SeededImage } from "../helpers/upstream.js";
import { berthCli, clientSays } from "./login-support.js";
import { readDirImage, settledLog, startProxySetup, upstreamRequestsFor, type ProxySetup } from "./proxy-support.js";
import { containersEnv, lowercaseTempDir, removeTree, requestLog, showRequests } from "./support.js";

const KiB = 1024;
const suffix = randomBytes(6).toString("hex");
const PASSWORDS = { admin: `admin-pw-${suffix}`, reader: `reader-pw-${suffix}`, outsider: `outsider-pw-${suffix}` };

describe("pull-through cache with access control on", { skip: skipUnlessTools("docker-registry", "openssl", "skopeo") }, () => {
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

  it("a push to a new repository outside docker.io/ works, although its name would otherwise go to the default upstream", async () => {
    // skopeo first HEADs each blob in reader/app: a name that is not local, so a read of it is the
    // default upstream's (docker.io/reader/app), which reader may not read.
    const image = await writeImageLayout(join(root, "own"), { ref: "1", layers: [{ files: { "etc/own": "own\n" } }] });
    const pushed = await skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", `reader:${PASSWORDS.reader}`, `oci:${image.dir}:1`, `docker://${p.berth.host}/reader/app:1`], true);
    assert.equal(pushed.code, 0, `reader pushes to reader/app: ${clientSays(pushed.stderr)}`);
    const { dest, result } = pullAs(`reader:${PASSWORDS.reader}`, "reader/app:1");
    assert.equal((await result).code, 0);
    assert.equal((await readDirImage(dest)).manifestDigest, image.manifestDigest, "and pulls it back from Berth's own repository");
    assert.deepEqual(upstreamRequestsFor(p.hub, "reader/app"), [], "the upstream was not asked about it");
  });
});
