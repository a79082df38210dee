// Quotas seen by a real client against a real `berth serve`: skopeo must fail (non-zero exit) with
// the quota's message in its error output, and the layer must not be stored.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnBerth, type BerthProcess } from "../helpers/berth.js";
import { writeImageLayout, type ImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { containersEnv, lowercaseTempDir, removeTree, requestLog, showRequests } from "./support.js";

const QUOTAS = `
quotas:
  warnAt: 0.5
  rules:
    - name: team-quota
      namespace: team
      limit: 256KiB
`;

/** A client's error output without the backslashes it escapes quotes with. */
const unescaped = (text: string) => text.replace(/\\/g, "");

describe("quotas seen by skopeo", { skip: skipUnlessTools("skopeo") }, () => {
  let root: string;
  let berth: BerthProcess;
  let env: Record<string, string>;
  let small: ImageLayout;
  let big: ImageLayout;

  const copy = (layout: ImageLayout, dest: string) =>
    run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${layout.dir}:${layout.ref}`, `docker://${berth.host}/${dest}`], {
      env,
      allowFail: true,
      timeoutMs: 120_000,
    });

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-quotas");
    await writeFile(join(root, "berth.yaml"), QUOTAS);
    berth = await spawnBerth(join(root, "data"), { BERTH_CONFIG: join(root, "berth.yaml") });
    env = await containersEnv(join(root, "containers"));
    small = await writeImageLayout(join(root, "small"), { ref: "1", layers: [{ files: { "etc/version": "1\n" } }] });
    // Random bytes stored without compression: a 1 MiB layer, four times the quota.
    big = await writeImageLayout(join(root, "big"), { ref: "2", layers: [{ randomBytes: 1024 * 1024, seed: 7 }] });
  });
  after(async () => {
    await berth?.stop();
    if (root) await removeTree(root);
  });

  it("skopeo copy of an image over the namespace quota fails with the quota in its message; a small one fits", async () => {
    const ok = await copy(small, "team/app:small");
    assert.equal(ok.code, 0, ok.stderr);
    const refused = await copy(big, "team/app:big");
    assert.notEqual(refused.code, 0, "skopeo must fail");
    assert.match(unescaped(refused.stderr), /quota exceeded: namespace team uses [\d.]+ (B|KiB) of 256\.0 KiB.*this push would add 1\.00 MiB/, refused.stderr);
    const res = await fetch(`${berth.url}/v2/team/app/manifests/big`, { method: "HEAD" });
    assert.equal(res.status, 404, "the image was not stored");
    const usage = (await (await fetch(`${berth.url}/api/v1/usage/team`)).json()) as { total: { referencedBytes: number } };
    assert.ok(usage.total.referencedBytes < 256 * 1024, `usage stayed under the quota: ${usage.total.referencedBytes}`);
    const elsewhere = await copy(big, "other/app:big");
    assert.equal(elsewhere.code, 0, elsewhere.stderr);
  });

  // podman push compresses layers from its storage on the fly and streams them without a length.
  it("podman push of an image over the quota is refused during the layer's PATCH, with the quota in its message", { skip: skipUnlessTools("podman") }, async () => {
    // Its own storage and blob-info cache: knowing where skopeo put the layer, it would try a mount.
    const podmanEnv = await containersEnv(join(root, "podman"));
    const podman = (...args: string[]) => run("podman", args, { env: podmanEnv, allowFail: true, timeoutMs: 180_000 });
    const pulled = await podman("pull", `oci:${big.dir}:${big.ref}`);
    assert.equal(pulled.code, 0, pulled.stderr);
    const image = pulled.stdout.trim().split("\n").pop()!;
    const refused = await podman("push", "--tls-verify=false", image, `docker://${berth.host}/team/pod:big`);
    assert.notEqual(refused.code, 0, "podman must fail");
    assert.match(unescaped(refused.stderr), /quota exceeded: namespace team uses [\d.]+ (B|KiB) of 256\.0 KiB/, refused.stderr);
    const patches = requestLog(berth).filter((r) => r.method === "PATCH" && r.path.startsWith("/v2/team/pod/"));
    assert.ok(patches.some((r) => r.status === 403), `a streamed PATCH was refused:\n${showRequests(patches)}`);
    const res = await fetch(`${berth.url}/v2/team/pod/manifests/big`, { method: "HEAD" });
    assert.equal(res.status, 404, "the image was not stored");
  });
});
