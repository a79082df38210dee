// Tag rules seen by real clients against a real `berth serve`: skopeo and the Docker engine must fail
// (non-zero exit) and show the operator's rule in their error output.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { startDockerd, type Dockerd } from "../helpers/dockerd.js";
import { writeImageLayout, type ImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { berthDigest, containersEnv, lowercaseTempDir, removeTree } from "./support.js";

const RULES = `
tagRules:
  - name: releases
    repositories: "prod/*"
    immutable: ["v*"]
    forbid: [latest]
`;

/** A client's error output without the backslashes it escapes quotes with (one level or several). */
const unescaped = (text: string) => text.replace(/\\/g, "");

/** A Berth serving RULES, two small image layouts, and an isolated containers env for skopeo. */
async function setUp(prefix: string) {
  const root = await lowercaseTempDir(prefix);
  const config = join(root, "berth.yaml");
  await writeFile(config, RULES);
  const berth = await spawnBerth(join(root, "data"), { BERTH_CONFIG: config });
  const env = await containersEnv(join(root, "containers"));
  const one = await writeImageLayout(join(root, "one"), { ref: "1", layers: [{ files: { "etc/version": "1\n" } }] });
  const two = await writeImageLayout(join(root, "two"), { ref: "2", layers: [{ files: { "etc/version": "2\n" } }] });
  return { root, berth, env, one, two };
}

describe("tag rules seen by skopeo", { skip: skipUnlessTools("skopeo") }, () => {
  let root: string;
  let berth: BerthProcess;
  let env: Record<string, string>;
  let one: ImageLayout;
  let two: ImageLayout;

  const skopeo = (args: string[]) => run("skopeo", args, { env, allowFail: true, timeoutMs: 120_000 });
  const copy = (layout: ImageLayout, dest: string) =>
    skopeo(["copy", "--dest-tls-verify=false", `oci:${layout.dir}:${layout.ref}`, `docker://${berth.host}/${dest}`]);

  before(async () => ({ root, berth, env, one, two } = await setUp("berth-e2e-tagrules-skopeo")));
  after(async () => {
    await berth?.stop();
    if (root) await removeTree(root);
  });

  it("skopeo copy to an immutable tag: the first push and an identical re-push succeed, a different image fails", async () => {
    for (let i = 0; i < 2; i++) {
      const ok = await copy(one, "prod/app:v1");
      assert.equal(ok.code, 0, ok.stderr);
    }
    const pinned = await berthDigest(berth.url, "prod/app", "v1");
    const moved = await copy(two, "prod/app:v1");
    assert.notEqual(moved.code, 0, "skopeo must fail");
    assert.match(unescaped(moved.stderr), /tag "v1" is immutable under tag rule "releases"/, moved.stderr);
    assert.equal(await berthDigest(berth.url, "prod/app", "v1"), pinned, "v1 did not move");
  });

  it("skopeo delete of an immutable tag fails with the rule in its message", async () => {
    assert.equal((await copy(one, "prod/del:v1")).code, 0);
    const res = await skopeo(["delete", "--tls-verify=false", `docker://${berth.host}/prod/del:v1`]);
    assert.notEqual(res.code, 0, "skopeo must fail");
    // skopeo deletes by digest after resolving the tag: the refusal names the tag that pins it.
    assert.match(unescaped(res.stderr), /is tagged "v1", which is immutable under tag rule "releases"/, res.stderr);
    assert.ok(await berthDigest(berth.url, "prod/del", "v1"), "the tag is still there");
  });

  it("skopeo copy to a forbidden tag fails with the rule in its message; other repositories accept it", async () => {
    const res = await copy(one, "prod/app:latest");
    assert.notEqual(res.code, 0, "skopeo must fail");
    assert.match(unescaped(res.stderr), /tag "latest" is forbidden by tag rule "releases"/, res.stderr);
    const elsewhere = await copy(one, "dev/app:latest");
    assert.equal(elsewhere.code, 0, elsewhere.stderr);
  });
});

describe("tag rules seen by the Docker engine", { skip: skipUnlessTools("dockerd", "docker", "skopeo") }, () => {
  let root: string;
  let berth: BerthProcess;
  let dockerd: Dockerd;
  let env: Record<string, string>;
  let one: ImageLayout;
  let two: ImageLayout;

  const docker = (...args: string[]) => run("docker", args, { env: dockerd.env, allowFail: true, timeoutMs: 120_000 });
  /** OCI layout → docker-archive (skopeo) → docker load → docker tag `remote`. */
  async function load(layout: ImageLayout, name: string, remote: string): Promise<void> {
    const archive = join(root, `${name}.tar`);
    const local = `berth-src/${name}:latest`;
    await run("skopeo", ["copy", `oci:${layout.dir}:${layout.ref}`, `docker-archive:${archive}:${local}`], { env });
    assert.equal((await docker("load", "-i", archive)).code, 0);
    assert.equal((await docker("tag", local, remote)).code, 0);
  }

  before(async () => {
    ({ root, berth, env, one, two } = await setUp("berth-e2e-tagrules-docker"));
    dockerd = await startDockerd();
  });
  after(async () => {
    await dockerd?.stop();
    await berth?.stop();
    if (root) await removeTree(root);
  });

  it("docker push that would move an immutable tag, or set latest, fails showing the rule", async () => {
    const remote = `${berth.host}/prod/dock:v1`;
    await load(one, "one", remote);
    const first = await docker("push", remote);
    assert.equal(first.code, 0, first.stderr);
    const pinned = await berthDigest(berth.url, "prod/dock", "v1");

    await load(two, "two", remote);
    const moved = await docker("push", remote);
    assert.notEqual(moved.code, 0, "docker push must fail");
    assert.match(unescaped(moved.stdout + moved.stderr), /tag "v1" is immutable under tag rule "releases"/, moved.stdout + moved.stderr);
    assert.equal(await berthDigest(berth.url, "prod/dock", "v1"), pinned);

    const latest = `${berth.host}/prod/dock:latest`;
    assert.equal((await docker("tag", remote, latest)).code, 0);
    const forbidden = await docker("push", latest);
    assert.notEqual(forbidden.code, 0, "docker push must fail");
    assert.match(unescaped(forbidden.stdout + forbidden.stderr), /tag "latest" is forbidden by tag rule "releases"/, forbidden.stdout + forbidden.stderr);
  });
});
