// Access control with skopeo, podman and buildah (Docker and ctr: login-docker-ctr.test.ts)
// with real clients against a real `berth serve` (BERTH_AUTH=on), set up with the
// `berth` CLI: alice owns the private namespace `team` (rita reads it) and the public `oss`, and has
// a robot token `ci` for team/*. Each client logs in, pushes and pulls as a user would; wrong
// passwords, a reader's push and anonymous pulls of private images are refused with the messages
// users see; the audit log lists the logins and never a secret.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeImageLayout, type ImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import {
  assertAuditOfLogins,
  assertNothingWritten,
  assertPushDenied,
  clientSays,
  digestAsAdmin,
  PASSWORDS,
  requestsSince,
  settledRequestsSince,
  startAuthBerth,
  tagsAsAdmin,
  type AuthBerth,
  EMPTY_AUTH,
  storedAuth,
} from "./login-support.js";
import { containersEnv, lowercaseTempDir, removeTree, showRequests } from "./support.js";

describe("access control with skopeo", { skip: skipUnlessTools("skopeo") }, () => {
  let root: string;
  let b: AuthBerth;
  /** containers-storage and an empty auth file: anonymous unless a test says otherwise. */
  let env: Record<string, string>;
  let app: ImageLayout;
  let appPushed: Promise<void> | undefined;

  const skopeo = (args: string[], opts: { authFile?: string; input?: string; allowFail?: boolean } = {}) =>
    run("skopeo", args, {
      env: { ...env, ...(opts.authFile ? { REGISTRY_AUTH_FILE: opts.authFile } : {}) },
      allowFail: opts.allowFail ?? false,
      timeoutMs: 60_000,
      ...(opts.input === undefined ? {} : { input: opts.input }),
    });
  const ref = (name: string) => `docker://${b.host}/${name}`;
  const appSrc = () => `oci:${app.dir}:${app.ref}`;
  const freshAuthFile = async (name: string) => {
    const file = join(root, `${name}-auth.json`);
    await writeFile(file, EMPTY_AUTH);
    return file;
  };
  /** alice's copy of the app image to team/app:1.0 (once; the tests after the first reuse it). */
  const pushApp = () =>
    (appPushed ??= skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", `alice:${PASSWORDS.alice}`, appSrc(), ref("team/app:1.0")]).then(() => {}));

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-login-skopeo");
    env = await containersEnv(join(root, "containers"));
    b = await startAuthBerth(root);
    app = await writeImageLayout(join(root, "app"), { ref: "1.0", layers: [{ files: { "etc/motd": "team app\n" } }] });
  });

  after(async () => {
    await b?.proc.stop();
    if (root) await removeTree(root);
  });

  it("skopeo login as alice stores her credentials and skopeo copy to team/app uses them", async () => {
    const authFile = await freshAuthFile("alice");
    const login = await skopeo(["login", "--tls-verify=false", "-u", "alice", "--password-stdin", b.host], { authFile, input: `${PASSWORDS.alice}\n` });
    assert.match(login.stdout, /Login Succeeded/);
    assert.deepEqual(await storedAuth(authFile, b.host), { user: "alice", password: PASSWORDS.alice });

    await skopeo(["copy", "--dest-tls-verify=false", appSrc(), ref("team/app:1.0")], { authFile });
    appPushed = Promise.resolve();
    const inspected = JSON.parse((await skopeo(["inspect", "--tls-verify=false", ref("team/app:1.0")], { authFile })).stdout) as { Digest: string };
    assert.equal(inspected.Digest, app.manifestDigest);
    assert.equal(await digestAsAdmin(b, "team/app", "1.0"), app.manifestDigest);
  });

  it("skopeo login with alice's robot token works, pushes to team/ci and nowhere outside the token's scope", async (t) => {
    const authFile = await freshAuthFile("robot");
    const login = await skopeo(["login", "--tls-verify=false", "-u", "alice", "--password-stdin", b.host], { authFile, input: `${b.robot}\n` });
    assert.match(login.stdout, /Login Succeeded/);
    await skopeo(["copy", "--dest-tls-verify=false", appSrc(), ref("team/ci:1")], { authFile });
    assert.deepEqual(await tagsAsAdmin(b, "team/ci"), ["1"]);

    const from = requestsSince(b, 0).length;
    const outside = await skopeo(["copy", "--dest-tls-verify=false", appSrc(), ref("oss/robot:1")], { authFile, allowFail: true });
    assert.notEqual(outside.code, 0, "the token is for team/* only");
    assert.match(outside.stderr, /denied|403/i);
    t.diagnostic(`skopeo, robot token outside its scope: ${clientSays(outside.stderr)}`);
    assertPushDenied(await settledRequestsSince(b, from), "robot push to oss/robot");
    assert.deepEqual(await tagsAsAdmin(b, "oss/robot"), []);
  });

  it("skopeo login with a wrong password fails with invalid username/password and stores nothing", async (t) => {
    const authFile = await freshAuthFile("wrong");
    const from = requestsSince(b, 0).length;
    const login = await skopeo(["login", "--tls-verify=false", "-u", "alice", "--password-stdin", b.host], {
      authFile,
      input: `${PASSWORDS.wrong}\n`,
      allowFail: true,
    });
    assert.notEqual(login.code, 0);
    assert.match(login.stderr, /invalid username\/password|401/i);
    t.diagnostic(`skopeo login, wrong password: ${clientSays(login.stderr)}`);
    assert.equal(await storedAuth(authFile, b.host), undefined);
    const sent = await settledRequestsSince(b, from);
    assert.ok(sent.some((r) => r.path.startsWith("/token") && r.status === 401), `the token endpoint said 401:\n${showRequests(sent)}`);
  });

  it("rita (reader) inspects and copies team/app, but her copy to team/app is refused as denied", async (t) => {
    await pushApp();
    const rita = `rita:${PASSWORDS.rita}`;
    const inspected = JSON.parse((await skopeo(["inspect", "--tls-verify=false", "--creds", rita, ref("team/app:1.0")])).stdout) as { Digest: string };
    assert.equal(inspected.Digest, app.manifestDigest);
    await skopeo(["copy", "--src-tls-verify=false", "--src-creds", rita, ref("team/app:1.0"), `oci:${join(root, "rita-copy")}:1.0`]);
    const index = JSON.parse(await readFile(join(root, "rita-copy", "index.json"), "utf8")) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, app.manifestDigest);

    const other = await writeImageLayout(join(root, "rita-own"), { ref: "1", layers: [{ files: { "etc/motd": "rita's\n" } }] });
    for (const src of [appSrc(), `oci:${other.dir}:1`]) {
      const from = requestsSince(b, 0).length;
      const push = await skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", rita, src, ref("team/app:rita")], { allowFail: true });
      assert.notEqual(push.code, 0, `rita's copy of ${src} must fail`);
      assert.match(push.stderr, /denied|403/i);
      t.diagnostic(`skopeo copy as rita (reader) of ${src.startsWith(`oci:${app.dir}`) ? "team/app's image" : "a new image"}: ${clientSays(push.stderr)}`);
      assertPushDenied(await settledRequestsSince(b, from), `rita's copy of ${src}`);
    }
    assert.deepEqual(await tagsAsAdmin(b, "team/app"), ["1.0"]);
  });

  it("anonymous skopeo inspects a public oss image but is refused team/app as unauthorized", async (t) => {
    await pushApp();
    await skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", `alice:${PASSWORDS.alice}`, appSrc(), ref("oss/lib:1.0")]);
    for (const anonymous of [["--no-creds"], []]) {
      const pub = JSON.parse((await skopeo(["inspect", "--tls-verify=false", ...anonymous, ref("oss/lib:1.0")])).stdout) as { Digest: string };
      assert.equal(pub.Digest, app.manifestDigest, `public pull ${anonymous.join(" ") || "(empty auth file)"}`);
      const priv = await skopeo(["inspect", "--tls-verify=false", ...anonymous, ref("team/app:1.0")], { allowFail: true });
      assert.notEqual(priv.code, 0, "a private image is not readable anonymously");
      assert.match(priv.stderr, /unauthorized|401/i);
      t.diagnostic(`skopeo inspect ${anonymous.join(" ") || "(empty auth file)"} of team/app: ${clientSays(priv.stderr)}`);
    }
    const from = requestsSince(b, 0).length;
    const push = await skopeo(["copy", "--dest-tls-verify=false", "--dest-no-creds", appSrc(), ref("oss/lib:anon")], { allowFail: true });
    assert.notEqual(push.code, 0, "anonymous push is refused");
    assert.match(push.stderr, /unauthorized|401|denied/i);
    t.diagnostic(`skopeo copy --dest-no-creds: ${clientSays(push.stderr)}`);
    const sent = await settledRequestsSince(b, from);
    assertNothingWritten(sent, "anonymous push");
    assert.ok(sent.some((r) => r.path.startsWith("/v2/oss/lib/") && r.status === 401), `Berth answered 401:\n${showRequests(sent)}`);
  });

  it("berth audit lists the logins, failed ones included, and no password or token", async () => {
    await assertAuditOfLogins(b, ["alice", "rita", "token:alice/ci"], ["alice"]);
  });
});

describe("access control with podman and buildah", { skip: skipUnlessTools("podman", "buildah") }, () => {
  let root: string;
  let b: AuthBerth;
  /** alice's storage (where buildah builds) and auth file. */
  let aliceEnv: Record<string, string>;
  /** rita's storage and auth file. */
  let ritaEnv: Record<string, string>;
  let built: Promise<string> | undefined;
  let pushedDigest: string | undefined;

  const tool = (cmd: string, args: string[], env: Record<string, string>, opts: { input?: string; allowFail?: boolean } = {}) =>
    run(cmd, args, { env, timeoutMs: 60_000, allowFail: opts.allowFail ?? false, ...(opts.input === undefined ? {} : { input: opts.input }) });
  const login = (cmd: "podman" | "buildah", user: string, password: string, env: Record<string, string>, allowFail = false) =>
    tool(cmd, ["login", "--tls-verify=false", "-u", user, "--password-stdin", b.host], env, { input: `${password}\n`, allowFail });

  /** buildah from scratch + copy + commit in `env`'s storage; returns the local name. */
  async function buildScratch(env: Record<string, string>, name: string, content: string): Promise<string> {
    const file = join(root, `${name.replace(/[/:]/g, "-")}.txt`);
    await writeFile(file, content);
    const container = (await tool("buildah", ["from", "scratch"], env)).stdout.trim();
    try {
      await tool("buildah", ["copy", container, file, "/hello.txt"], env);
      await tool("buildah", ["config", "--arch", "amd64", "--os", "linux", container], env);
      await tool("buildah", ["commit", "-q", container, name], env);
    } finally {
      await tool("buildah", ["rm", container], env);
    }
    return name;
  }
  const image = () => (built ??= buildScratch(aliceEnv, "localhost/login/one:v1", "built by alice\n"));
  const needPushed = () => {
    assert.ok(pushedDigest, "needs the image from the buildah push test");
    return pushedDigest;
  };

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-login-pb");
    aliceEnv = await containersEnv(join(root, "alice"));
    ritaEnv = await containersEnv(join(root, "rita"));
    b = await startAuthBerth(root);
  });

  after(async () => {
    await b?.proc.stop();
    if (root) await removeTree(root);
  });

  it("podman login as alice, then buildah push to team/pb with the stored credentials", async () => {
    const local = await image();
    const out = await login("podman", "alice", PASSWORDS.alice, aliceEnv);
    assert.match(out.stdout, /Login Succeeded/);
    assert.equal((await storedAuth(aliceEnv.REGISTRY_AUTH_FILE!, b.host))?.user, "alice");

    const digestFile = join(root, "pb.digest");
    await tool("buildah", ["push", "--tls-verify=false", "--digestfile", digestFile, local, `docker://${b.host}/team/pb:v1`], aliceEnv);
    pushedDigest = (await readFile(digestFile, "utf8")).trim();
    assert.equal(await digestAsAdmin(b, "team/pb", "v1"), pushedDigest);
  });

  it("buildah login as alice, then podman push to team/pb and podman pull into a fresh storage", async () => {
    const digest = needPushed();
    await tool("buildah", ["logout", b.host], aliceEnv);
    const out = await login("buildah", "alice", PASSWORDS.alice, aliceEnv);
    assert.match(out.stdout, /Login Succeeded/);
    await tool("podman", ["push", "--tls-verify=false", await image(), `${b.host}/team/pb:v2`], aliceEnv);
    assert.equal(await digestAsAdmin(b, "team/pb", "v2"), digest, "an unchanged image keeps its digest");

    // same auth file, empty storage: every blob comes from Berth
    const fresh = { ...(await containersEnv(join(root, "alice-fresh"))), REGISTRY_AUTH_FILE: aliceEnv.REGISTRY_AUTH_FILE! };
    await tool("podman", ["pull", "--tls-verify=false", `${b.host}/team/pb:v2`], fresh);
    const pulled = (await tool("podman", ["image", "inspect", "--format", "{{.Digest}}", `${b.host}/team/pb:v2`], fresh)).stdout.trim();
    assert.equal(pulled, digest);
  });

  it("podman login as rita and podman pull of team/pb work; her podman and buildah pushes are denied", async (t) => {
    const digest = needPushed();
    await login("podman", "rita", PASSWORDS.rita, ritaEnv);
    await tool("podman", ["pull", "--tls-verify=false", `${b.host}/team/pb:v1`], ritaEnv);
    assert.equal((await tool("podman", ["image", "inspect", "--format", "{{.Digest}}", `${b.host}/team/pb:v1`], ritaEnv)).stdout.trim(), digest);

    const own = await buildScratch(ritaEnv, "localhost/rita/own:v1", "rita's own\n");
    const attempts: [string, string[]][] = [
      ["podman", ["push", "--tls-verify=false", `${b.host}/team/pb:v1`, `${b.host}/team/pb:rita`]],
      ["podman", ["push", "--tls-verify=false", own, `${b.host}/team/pb:rita`]],
      ["buildah", ["push", "--tls-verify=false", own, `docker://${b.host}/team/pb:rita`]],
    ];
    for (const [cmd, args] of attempts) {
      const from = requestsSince(b, 0).length;
      const push = await tool(cmd, args, ritaEnv, { allowFail: true });
      assert.notEqual(push.code, 0, `${cmd} ${args.join(" ")} must fail`);
      assert.match(push.stderr, /denied/i);
      t.diagnostic(`${cmd} push as rita (reader) of ${args.at(-2)}: ${clientSays(push.stderr)}`);
      assertPushDenied(await settledRequestsSince(b, from), `rita's ${cmd} push of ${args.at(-2)}`);
    }
    assert.deepEqual((await tagsAsAdmin(b, "team/pb")).sort(), ["v1", "v2"]);
  });

  it("podman and buildah login with a wrong password fail with invalid username/password", async (t) => {
    for (const cmd of ["podman", "buildah"] as const) {
      const env = await containersEnv(join(root, `wrong-${cmd}`));
      const out = await login(cmd, "alice", PASSWORDS.wrong, env, true);
      assert.notEqual(out.code, 0, `${cmd} login with a wrong password must fail`);
      assert.match(out.stderr, /invalid username\/password/i);
      t.diagnostic(`${cmd} login, wrong password: ${clientSays(out.stderr)}`);
      assert.equal(await storedAuth(env.REGISTRY_AUTH_FILE!, b.host), undefined, `${cmd} stored nothing`);
    }
  });

  it("podman logout forgets rita's credentials, and her next pull of team/pb is unauthorized", async (t) => {
    needPushed();
    const out = await tool("podman", ["logout", b.host], ritaEnv);
    assert.match(out.stdout, /Removed login credentials/);
    assert.equal(await storedAuth(ritaEnv.REGISTRY_AUTH_FILE!, b.host), undefined);
    await tool("podman", ["rmi", `${b.host}/team/pb:v1`], ritaEnv);
    const pull = await tool("podman", ["pull", "--tls-verify=false", `${b.host}/team/pb:v1`], ritaEnv, { allowFail: true });
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, /unauthorized|401/i);
    t.diagnostic(`podman pull after logout: ${clientSays(pull.stderr)}`);
  });

  it("berth audit lists the logins, failed ones included, and no password or token", async () => {
    await assertAuditOfLogins(b, ["alice", "rita"], ["alice"]);
  });
});

