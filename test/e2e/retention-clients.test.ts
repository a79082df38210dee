// Retention seen by a real client: skopeo pushes tags to a real `berth serve`, `berth retention` (a
// second process on the same data directory) deletes what the rule does not keep, and skopeo then
// lists the tags and inspects a kept one. The dry run, first, must change nothing skopeo can see.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BERTH_BIN, spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { writeImageLayout, type ImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { containersEnv, lowercaseTempDir, removeTree } from "./support.js";

const CONFIG = `
retention:
  rules:
    - name: apps
      repositories: "e2e/*"
      keepLast: 1
      keep: [semver]
      deleteUntagged: true
`;

describe("retention seen by skopeo", { skip: skipUnlessTools("skopeo") }, () => {
  let root: string;
  let config: string;
  let berth: BerthProcess;
  let env: Record<string, string>;
  let old: ImageLayout;
  let current: ImageLayout;

  const skopeo = (args: string[], allowFail = false) => run("skopeo", args, { env, allowFail, timeoutMs: 120_000 });
  const ref = (tag: string) => `docker://${berth.host}/e2e/app:${tag}`;
  const listTags = async () =>
    ((JSON.parse((await skopeo(["list-tags", "--tls-verify=false", `docker://${berth.host}/e2e/app`])).stdout) as { Tags: string[] }).Tags).sort();
  const retention = (args: string[]) =>
    run(process.execPath, [BERTH_BIN, "retention", "--data", join(root, "data"), "--config", config, ...args], { allowFail: true, timeoutMs: 60_000 });

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-retention");
    env = await containersEnv(join(root, "containers"));
    config = join(root, "berth.yaml");
    await writeFile(config, CONFIG);
    berth = await spawnBerth(join(root, "data"), { BERTH_CONFIG: config, BERTH_GC_GRACE: "0s" });
    old = await writeImageLayout(join(root, "old"), { ref: "x", layers: [{ files: { "v.txt": "old\n" } }] });
    current = await writeImageLayout(join(root, "current"), { ref: "x", layers: [{ files: { "v.txt": "current\n" } }] });
    for (const [layout, tag] of [[old, "1.0.0"], [old, "dev-1"], [old, "dev-2"], [current, "dev-3"]] as const) {
      await skopeo(["copy", "--preserve-digests", "--dest-tls-verify=false", `oci:${layout.dir}:x`, ref(tag)]);
    }
  });
  after(async () => {
    await berth?.stop();
    await removeTree(root);
  });

  it("berth retention --dry-run lists what would go and skopeo still sees every tag", async () => {
    const dry = await retention(["--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run, nothing changed\): 2 tags would be deleted, 2 kept/);
    assert.match(dry.stdout, /delete {2}dev-1 /);
    assert.match(dry.stdout, /delete {2}dev-2 /);
    assert.match(dry.stdout, /keep {4}dev-3 {2}keepLast/);
    assert.match(dry.stdout, /keep {4}1\.0\.0 {2}pattern:semver/);
    assert.deepEqual(await listTags(), ["1.0.0", "dev-1", "dev-2", "dev-3"]);
  });

  it("berth retention deletes them: gone from skopeo list-tags, the kept ones still inspectable", async () => {
    const real = await retention(["--json"]);
    assert.equal(real.code, 0, real.stderr);
    const report = JSON.parse(real.stdout) as { tagsDeleted: number; repositories: { deleted: { tag: string }[]; untaggedManifests: string[] }[] };
    assert.equal(report.tagsDeleted, 2);
    assert.deepEqual(report.repositories[0]!.untaggedManifests, [], "1.0.0 still points at the old manifest");
    assert.deepEqual(await listTags(), ["1.0.0", "dev-3"]);
    const gone = await skopeo(["inspect", "--tls-verify=false", ref("dev-1")], true);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /manifest unknown/i);
    const kept = JSON.parse((await skopeo(["inspect", "--tls-verify=false", ref("1.0.0")])).stdout) as { Digest: string };
    assert.equal(kept.Digest, old.manifestDigest);
    const newest = JSON.parse((await skopeo(["inspect", "--tls-verify=false", ref("dev-3")])).stdout) as { Digest: string };
    assert.equal(newest.Digest, current.manifestDigest);
  });
});
