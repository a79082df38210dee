// Access control with the Docker engine and ctr (skopeo, podman, buildah: login.test.ts)
// with real clients against a real `berth serve` (BERTH_AUTH=on), set up with the
// `berth` CLI: alice owns the private namespace `team` (rita reads it) and the public `oss`, and has
// a robot token `ci` for team/*. Each client logs in, pushes and pulls as a user would; wrong
// passwords, a reader's push and anonymous pulls of private images are refused with the messages
// users see; the audit log lists the logins and never a secret.
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startDockerd, type Dockerd } from "../helpers/dockerd.js";
import { makeTar } from "../helpers/fixtures.js";
import { writeImageLayout, type ImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import {
  assertAuditOfLogins,
  assertNothingWritten,
  assertPushDenied,
  berthCli,
  clientSays,
  digestAsAdmin,
  PASSWORDS,
  requestsSince,
  settledRequestsSince,
  startAuthBerth,
  tagsAsAdmin,
  type AuthBerth,
  storedAuth,
} from "./login-support.js";
import { lowercaseTempDir, removeTree, showRequests } from "./support.js";

describe("access control with the Docker engine", { skip: skipUnlessTools("dockerd", "docker") }, () => {
  let root: string;
  let b: AuthBerth;
  let dockerd: Dockerd;
  /** DOCKER_HOST of the private engine and a DOCKER_CONFIG of our own (never ~/.docker). */
  let env: Record<string, string>;
  let configFile: string;
  let pushedDigest: string | undefined;
  const identityTokens: string[] = [];

  const docker = (args: string[], opts: { input?: string; allowFail?: boolean } = {}) =>
    run("docker", args, { env, timeoutMs: 60_000, allowFail: opts.allowFail ?? false, ...(opts.input === undefined ? {} : { input: opts.input }) });
  const login = (user: string, password: string, allowFail = false) =>
    docker(["login", "-u", user, "--password-stdin", b.host], { input: `${password}\n`, allowFail });
  /** A one-layer image from a rootfs tarball (docker import, no network needed); returns its local name. */
  async function importImage(name: string, motd: string): Promise<string> {
    const tar = join(root, `${name.replace(/[/:]/g, "-")}.tar`);
    await writeFile(tar, makeTar({ "etc/motd": motd }));
    await docker(["import", tar, name]);
    return name;
  }
  const needPushed = () => {
    assert.ok(pushedDigest, "needs the image from the docker push test");
    return pushedDigest;
  };

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-login-docker");
    b = await startAuthBerth(root);
    dockerd = await startDockerd();
    configFile = join(root, "docker-config", "config.json");
    env = { ...dockerd.env, DOCKER_CONFIG: join(root, "docker-config") };
    await importImage("local/app:1", "pushed by alice\n");
  });

  after(async () => {
    await dockerd?.stop();
    await b?.proc.stop();
    if (root) await removeTree(root);
  });

  it("docker login -u alice --password-stdin says Login Succeeded and docker push to team/app works", async () => {
    const out = await login("alice", PASSWORDS.alice);
    assert.match(out.stdout, /Login Succeeded/);
    const stored = await storedAuth(configFile, b.host);
    assert.equal(stored?.user, "alice");
    assert.ok(stored?.identitytoken, "Berth gave docker a refresh token, stored instead of the password");
    assert.notEqual(stored.password, PASSWORDS.alice);
    identityTokens.push(stored.identitytoken);

    const remote = `${b.host}/team/app:1`;
    await docker(["tag", "local/app:1", remote]);
    const push = await docker(["push", remote]);
    const match = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout);
    assert.ok(match, `docker push printed a digest:\n${push.stdout}`);
    pushedDigest = match[1]!;
    assert.equal(await digestAsAdmin(b, "team/app", "1"), pushedDigest);
  });

  it("after docker logout, docker pull of team/app fails with an auth error", async (t) => {
    needPushed();
    const out = await docker(["logout", b.host]);
    assert.match(out.stdout, /Removing login credentials/);
    assert.equal(await storedAuth(configFile, b.host), undefined);
    await docker(["rmi", `${b.host}/team/app:1`]);
    const from = requestsSince(b, 0).length;
    const pull = await docker(["pull", `${b.host}/team/app:1`], { allowFail: true });
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, /denied|unauthorized|docker login/i);
    t.diagnostic(`docker pull after logout: ${clientSays(pull.stderr)}`);
    const sent = await settledRequestsSince(b, from);
    assert.ok(sent.some((r) => r.path.startsWith("/v2/team/app/manifests/") && r.status === 401), `the manifest was refused 401:\n${showRequests(sent)}`);
  });

  it("docker login as rita pulls team/app, but her docker push is refused with denied", async (t) => {
    const digest = needPushed();
    assert.match((await login("rita", PASSWORDS.rita)).stdout, /Login Succeeded/);
    const stored = await storedAuth(configFile, b.host);
    if (stored?.identitytoken) identityTokens.push(stored.identitytoken);
    await docker(["pull", `${b.host}/team/app:1`]);
    const repoDigests = JSON.parse((await docker(["image", "inspect", "--format", "{{json .RepoDigests}}", `${b.host}/team/app:1`])).stdout) as string[];
    assert.deepEqual(repoDigests, [`${b.host}/team/app@${digest}`]);

    await importImage("local/rita:1", "rita's own\n");
    for (const [source, target] of [[`${b.host}/team/app:1`, "team/app:rita"], ["local/rita:1", "team/app:rita2"]] as const) {
      await docker(["tag", source, `${b.host}/${target}`]);
      const from = requestsSince(b, 0).length;
      const push = await docker(["push", `${b.host}/${target}`], { allowFail: true });
      assert.notEqual(push.code, 0, `rita's push of ${source} must fail`);
      assert.match(push.stderr, /denied/i);
      t.diagnostic(`docker push as rita (reader) of ${source}: ${clientSays(push.stderr)}`);
      assertPushDenied(await settledRequestsSince(b, from), `rita's docker push of ${source}`);
    }
    assert.deepEqual(await tagsAsAdmin(b, "team/app"), ["1"]);
  });

  it("docker login with a wrong password fails with 401/unauthorized", async (t) => {
    const from = requestsSince(b, 0).length;
    const out = await login("alice", PASSWORDS.wrong, true);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /401|unauthorized/i);
    t.diagnostic(`docker login, wrong password: ${clientSays(out.stderr)}`);
    const sent = await settledRequestsSince(b, from);
    assert.ok(sent.some((r) => r.path.startsWith("/token") && r.status === 401), `the token endpoint said 401:\n${showRequests(sent)}`);
    assert.doesNotMatch(out.stdout, /Login Succeeded/);
  });

  it("docker login with alice's robot token works and docker push to team/ci works", async () => {
    needPushed();
    assert.match((await login("alice", b.robot)).stdout, /Login Succeeded/);
    await docker(["tag", "local/app:1", `${b.host}/team/ci:1`]);
    const push = await docker(["push", `${b.host}/team/ci:1`]);
    assert.match(push.stdout, /digest: sha256:/);
    assert.deepEqual(await tagsAsAdmin(b, "team/ci"), ["1"]);
  });

  it("after berth token revoke, docker push with the stored robot token fails with an auth error", async (t) => {
    needPushed();
    await berthCli(b.data, ["token", "revoke", "ci", "--user", "alice"]);
    await docker(["tag", "local/app:1", `${b.host}/team/ci:2`]);
    const from = requestsSince(b, 0).length;
    const push = await docker(["push", `${b.host}/team/ci:2`], { allowFail: true });
    assert.notEqual(push.code, 0, "a revoked token no longer pushes");
    assert.match(push.stderr, /unauthorized|denied|401/i);
    t.diagnostic(`docker push with a revoked robot token: ${clientSays(push.stderr)}`);
    const sent = await settledRequestsSince(b, from);
    assertNothingWritten(sent, "push with a revoked token");
    assert.ok(sent.some((r) => r.path.startsWith("/token") && r.status === 401), `the token endpoint said 401:\n${showRequests(sent)}`);
    assert.deepEqual(await tagsAsAdmin(b, "team/ci"), ["1"]);
  });

  it("berth audit lists the logins, failed ones included, and no password, token or refresh token", async () => {
    await assertAuditOfLogins(b, ["alice", "rita", "token:alice/ci"], ["alice"], identityTokens);
  });
});

describe("access control with ctr (containerd)", { skip: skipUnlessTools("dockerd", "ctr") }, () => {
  const NAMESPACE = "berthlogin";
  let root: string;
  let b: AuthBerth;
  let dockerd: Dockerd;
  let app: ImageLayout;
  let pushed = false;

  /** ctr in namespace `ns` (a fresh namespace has no images; content is fetched again). */
  const ctr = (ns: string, args: string[], allowFail = false) =>
    run("ctr", ["--address", dockerd.containerdAddress, "-n", ns, ...args], { timeoutMs: 60_000, allowFail });
  const listedDigest = async (ns: string, ref: string) => {
    const { stdout } = await ctr(ns, ["images", "ls"]);
    const row = stdout.split("\n").map((l) => l.trim().split(/\s+/)).find((cols) => cols[0] === ref);
    assert.ok(row, `ctr images ls shows ${ref}:\n${stdout}`);
    return row[2];
  };
  const needPushed = () => assert.ok(pushed, "needs the image from the ctr push test");
  /** ctr images import of an OCI layout (tarred by hand) as `base`:`layout.ref`. */
  async function importLayout(layout: ImageLayout, base: string): Promise<void> {
    const files: Record<string, Buffer> = {
      "oci-layout": await readFile(join(layout.dir, "oci-layout")),
      "index.json": await readFile(join(layout.dir, "index.json")),
    };
    for (const name of await readdir(join(layout.dir, "blobs", "sha256"))) {
      files[`blobs/sha256/${name}`] = await readFile(join(layout.dir, "blobs", "sha256", name));
    }
    const archive = `${layout.dir}.tar`;
    await writeFile(archive, makeTar(files));
    await ctr(NAMESPACE, ["images", "import", "--base-name", base, archive]);
  }

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-login-ctr");
    b = await startAuthBerth(root);
    dockerd = await startDockerd();
    app = await writeImageLayout(join(root, "app"), { ref: "1.0", layers: [{ files: { "etc/motd": "pulled by ctr\n" } }] });
    await importLayout(app, `${b.host}/team/app`);
    const own = await writeImageLayout(join(root, "rita-own"), { ref: "rita2", layers: [{ files: { "etc/motd": "rita's own\n" } }] });
    await importLayout(own, `${b.host}/team/app`);
  });

  after(async () => {
    await dockerd?.stop();
    await b?.proc.stop();
    if (root) await removeTree(root);
  });

  it("ctr images push --plain-http --user alice:PASSWORD to team/app works", async () => {
    await ctr(NAMESPACE, ["images", "push", "--plain-http", "--user", `alice:${PASSWORDS.alice}`, `${b.host}/team/app:1.0`]);
    pushed = true;
    assert.equal(await digestAsAdmin(b, "team/app", "1.0"), app.manifestDigest);
  });

  it("ctr images pull --plain-http --user alice:PASSWORD of team/app works", async () => {
    needPushed();
    const ref = `${b.host}/team/app:1.0`;
    await ctr("alice-pull", ["images", "pull", "--plain-http", "--user", `alice:${PASSWORDS.alice}`, ref]);
    assert.equal(await listedDigest("alice-pull", ref), app.manifestDigest);
  });

  it("ctr images pull with a wrong password fails with 401", async (t) => {
    needPushed();
    const from = requestsSince(b, 0).length;
    const pull = await ctr("wrong-pull", ["images", "pull", "--plain-http", "--user", `alice:${PASSWORDS.wrong}`, `${b.host}/team/app:1.0`], true);
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, /401|unauthorized/i);
    t.diagnostic(`ctr pull, wrong password: ${clientSays(pull.stderr)}`);
    const sent = await settledRequestsSince(b, from);
    assert.ok(sent.every((r) => !r.path.startsWith("/token") || r.status === 401), `every token request refused:\n${showRequests(sent)}`);
    assert.equal((await ctr("wrong-pull", ["images", "ls", "-q"])).stdout.trim(), "", "nothing pulled");
  });

  it("ctr as rita pulls team/app but her push is refused with 403; anonymous ctr cannot pull it", async (t) => {
    needPushed();
    const ref = `${b.host}/team/app:1.0`;
    await ctr("rita-pull", ["images", "pull", "--plain-http", "--user", `rita:${PASSWORDS.rita}`, ref]);
    assert.equal(await listedDigest("rita-pull", ref), app.manifestDigest);

    await ctr(NAMESPACE, ["images", "tag", ref, `${b.host}/team/app:rita`]);
    for (const tag of ["rita", "rita2"]) {
      const from = requestsSince(b, 0).length;
      const push = await ctr(NAMESPACE, ["images", "push", "--plain-http", "--user", `rita:${PASSWORDS.rita}`, `${b.host}/team/app:${tag}`], true);
      assert.notEqual(push.code, 0, `rita may not push team/app:${tag}`);
      assert.match(push.stderr, /403|denied|forbidden/i);
      t.diagnostic(`ctr push as rita (reader) of ${tag === "rita" ? "team/app's image" : "a new image"}: ${clientSays(push.stderr)}`);
      assertPushDenied(await settledRequestsSince(b, from), `rita's ctr push of team/app:${tag}`);
    }
    assert.deepEqual(await tagsAsAdmin(b, "team/app"), ["1.0"]);

    const anonymous = await ctr("anon-pull", ["images", "pull", "--plain-http", ref], true);
    assert.notEqual(anonymous.code, 0, "a private image is not pullable anonymously");
    assert.match(anonymous.stderr, /insufficient_scope|unauthorized|401|denied/i);
    t.diagnostic(`ctr pull without --user: ${clientSays(anonymous.stderr)}`);
  });

  it("ctr with the robot token (as alice or as ci) pulls team/app", async () => {
    needPushed();
    const ref = `${b.host}/team/app:1.0`;
    for (const user of ["alice", "ci"]) {
      const ns = `robot-${user}`;
      await ctr(ns, ["images", "pull", "--plain-http", "--user", `${user}:${b.robot}`, ref]);
      assert.equal(await listedDigest(ns, ref), app.manifestDigest);
    }
  });

  it("berth audit lists the logins, failed ones included, and no password or token", async () => {
    await assertAuditOfLogins(b, ["alice", "rita", "token:alice/ci"], ["alice"]);
  });
});
