// The access-control gaps real clients hit, against a real `berth serve` with BERTH_AUTH=on (set up
// by login-support.ts: alice owns the private `team` and the public `oss`, rita reads `team`):
// `skopeo delete` (containers/image asks a token for `repository:NAME:*`), `podman search HOST/`
// (the catalog through the token flow), and a cross-repository mount attempted with a robot token
// scoped to the destination only, which must upload the blob instead of mounting it.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeImageLayout, type ImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { berthCli, clientSays, digestAsAdmin, EMPTY_AUTH, PASSWORDS, settledRequestsSince, requestsSince, startAuthBerth, tagsAsAdmin, tokenFor, type AuthBerth } from "./login-support.js";
import { containersEnv, lowercaseTempDir, removeTree, showRequests, type LoggedRequest } from "./support.js";

const ADMIN = `admin:${PASSWORDS.admin}`;

describe("access control gaps with real clients: skopeo delete, podman search, mounts", { skip: skipUnlessTools("skopeo", "podman") }, () => {
  let root: string;
  let b: AuthBerth;
  let env: Record<string, string>;
  let app: ImageLayout;
  /** Only ever pushed to vault/src, so the only place to mount its layers from is private. */
  let vaultImage: ImageLayout;

  const tool = (cmd: string, args: string[], allowFail = false) => run(cmd, args, { env, allowFail, timeoutMs: 90_000 });
  const ref = (name: string) => `docker://${b.host}/${name}`;
  /** Copies an image from its OCI layout to `name` with `creds`. */
  const pushAs = (creds: string, name: string, image = app) =>
    tool("skopeo", ["copy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${image.dir}:${image.ref}`, ref(name)]);
  const mounts = (requests: LoggedRequest[]) => requests.filter((r) => r.method === "POST" && /[?&]mount=/.test(r.path));

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-access-clients");
    env = await containersEnv(join(root, "containers"), "vfs");
    b = await startAuthBerth(root);
    app = await writeImageLayout(join(root, "app"), { ref: "1.0", layers: [{ files: { "etc/motd": "access clients\n" } }, { files: { "bin/tool": "#!/bin/sh\n" } }] });
    vaultImage = await writeImageLayout(join(root, "vault"), { ref: "1.0", layers: [{ files: { "etc/secret": "vault only\n" } }, { files: { "etc/more": "also vault\n" } }] });
  });

  after(async () => {
    await b?.proc.stop();
    if (root) await removeTree(root);
  });

  it("skopeo delete as a reader is refused with 403 and the image stays; as the admin it deletes the image", async () => {
    await pushAs(`alice:${PASSWORDS.alice}`, "team/del:1.0");
    const from = requestsSince(b, 0).length;
    const refused = await tool("skopeo", ["delete", "--tls-verify=false", "--creds", `rita:${PASSWORDS.rita}`, ref("team/del:1.0")], true);
    assert.notEqual(refused.code, 0, "rita's delete fails");
    assert.match(clientSays(refused.stderr), /denied|403/i);
    assert.ok((await settledRequestsSince(b, from)).some((r) => r.method === "DELETE" && r.status === 403), "Berth answered the DELETE with 403");
    assert.equal(await digestAsAdmin(b, "team/del", "1.0"), app.manifestDigest, "the image is still there");

    const deleted = await tool("skopeo", ["delete", "--tls-verify=false", "--creds", ADMIN, ref("team/del:1.0")], true);
    assert.equal(deleted.code, 0, `the admin's skopeo delete succeeds: ${clientSays(deleted.stderr)}`);
    assert.deepEqual(await tagsAsAdmin(b, "team/del"), [], "the tag is gone");
    const token = await tokenFor(b, "admin", PASSWORDS.admin, "repository:team/del:pull");
    const gone = await fetch(`${b.url}/v2/team/del/manifests/${app.manifestDigest}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(gone.status, 404, "so is the manifest");
  });

  it("podman search HOST/ lists every repository for the admin and only what rita may pull for her", async () => {
    await pushAs(`alice:${PASSWORDS.alice}`, "team/app:1.0");
    await pushAs(`alice:${PASSWORDS.alice}`, "oss/lib:1.0");
    await pushAs(ADMIN, "vault/secret:1.0");
    const search = async (creds: string) => {
      const [user, password] = [creds.slice(0, creds.indexOf(":")), creds.slice(creds.indexOf(":") + 1)];
      const authFile = join(root, `search-${user}.json`);
      await writeFile(authFile, EMPTY_AUTH);
      await run("podman", ["login", "--tls-verify=false", "--authfile", authFile, "-u", user, "--password-stdin", b.host], { env, input: `${password}\n`, timeoutMs: 60_000 });
      const out = await tool("podman", ["search", "--tls-verify=false", "--authfile", authFile, "--limit", "100", "--format", "{{.Name}}", `${b.host}/`], true);
      assert.equal(out.code, 0, `podman search as ${user}: ${clientSays(out.stderr)}`);
      return out.stdout.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => l.replace(`${b.host}/`, "")).sort();
    };
    const all = await search(ADMIN);
    for (const repo of ["oss/lib", "team/app", "vault/secret"]) assert.ok(all.includes(repo), `the admin sees ${repo}: ${all.join(", ")}`);
    const rita = await search(`rita:${PASSWORDS.rita}`);
    assert.ok(rita.includes("team/app") && rita.includes("oss/lib"), `rita sees what she may pull: ${rita.join(", ")}`);
    assert.ok(!rita.some((r) => r.startsWith("vault/")), `but not vault/secret: ${rita.join(", ")}`);
  });

  it("skopeo copy from private vault/src to mirror/a with a robot token scoped to mirror/a uploads the blobs instead of mounting them", async () => {
    await pushAs(ADMIN, "vault/src:1.0", vaultImage);
    const created = await berthCli(b.data, ["token", "create", "--name", "mirror", "--user", "admin", "--scope", "repository:mirror/a:pull,push"]);
    const robot = created.stdout.trim();

    // Control: with the admin's own credentials the token covers vault/src, and skopeo mounts.
    let from = requestsSince(b, 0).length;
    await tool("skopeo", ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", ADMIN, "--dest-creds", ADMIN, ref("vault/src:1.0"), ref("mirror/control:1.0")]);
    const control = await settledRequestsSince(b, from);
    assert.ok(mounts(control).some((r) => r.status === 201), `skopeo mounts when allowed:\n${showRequests(control)}`);

    from = requestsSince(b, 0).length;
    await tool("skopeo", ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", ADMIN, "--dest-creds", `admin:${robot}`, ref("vault/src:1.0"), ref("mirror/a:1.0")]);
    const copied = await settledRequestsSince(b, from);
    // containers/image first checks the source with the destination's token (403 here), so it may
    // not even try the mount; whatever it tried, nothing was mounted into mirror/a.
    const mounted = mounts(copied).filter((r) => r.path.startsWith("/v2/mirror/a/") && r.status !== 202);
    assert.deepEqual(mounted, [], `no mount into mirror/a succeeded:\n${showRequests(copied)}`);
    const uploads = copied.filter((r) => r.method === "PUT" && r.path.startsWith("/v2/mirror/a/blobs/uploads/") && r.status === 201);
    assert.ok(uploads.length >= vaultImage.layerDigests.length, `the layers were uploaded instead:\n${showRequests(copied)}`);
    assert.equal(await digestAsAdmin(b, "mirror/a", "1.0"), vaultImage.manifestDigest, "the copy arrived whole");

    // The same refusal, raw: the robot's bearer token asks for vault/src too but is granted mirror/a only.
    const bearer = await tokenFor(b, "admin", robot, "repository:mirror/a:pull,push");
    const layer = vaultImage.layerDigests[0]!;
    const res = await fetch(`${b.url}/v2/mirror/a/blobs/uploads/?mount=${layer}&from=vault/src`, { method: "POST", headers: { Authorization: `Bearer ${bearer}` } });
    assert.equal(res.status, 202, "no mount with a token that does not cover vault/src");
    // And the admin's own bearer token issued for a fresh repository alone does not mount either.
    const narrow = await tokenFor(b, "admin", PASSWORDS.admin, "repository:mirror/b:pull,push");
    const raw = await fetch(`${b.url}/v2/mirror/b/blobs/uploads/?mount=${layer}&from=vault/src`, { method: "POST", headers: { Authorization: `Bearer ${narrow}` } });
    assert.equal(raw.status, 202, "the admin could pull vault/src, but this token cannot");
  });
});
