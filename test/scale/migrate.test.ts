import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { BERTH_BIN, scaleOutEnv, spawnBerth, type BerthProcess, configFromEnv } from "../helpers/berth.js";
import { makeImage, makeIndex, sha256 } from "../helpers/fixtures.js";
import { clientOf, pullBlob, pullManifest, pushImage } from "../helpers/push.js";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";
import { run } from "../helpers/tools.js";

type Env = Record<string, string>;


describe("berth migrate", { skip: skipUnlessS3() || skipUnlessPostgres() }, () => {
  let dir: string;
  const cleanups: (() => Promise<void>)[] = [];
  const big = randomBytes(48 * 1024 * 1024);
  const shared = randomBytes(200_000);
  const amd = makeImage({ layers: [shared, big], platform: { architecture: "amd64" } });
  const arm = makeImage({ layers: [shared], platform: { architecture: "arm64" } });
  const index = makeIndex([
    { mediaType: amd.manifestMediaType, digest: amd.manifestDigest, size: amd.manifest.length, platform: { architecture: "amd64", os: "linux" } },
    { mediaType: arm.manifestMediaType, digest: arm.manifestDigest, size: arm.manifest.length, platform: { architecture: "arm64", os: "linux" } },
  ]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-migrate-"));
    const source = await spawnBerth(join(dir, "embedded"));
    const client = clientOf(source.url);
    try {
      for (const repo of ["team/multi", "team/single"]) {
        for (const image of repo === "team/multi" ? [amd, arm] : [arm]) await pushImage(client, repo, image.manifestDigest, image);
      }
      await client.putManifest("team/multi", "1.0", index.index, index.mediaType);
      await client.putManifest("team/multi", "latest", index.index, index.mediaType);
      await client.putManifest("team/single", "arm", arm.manifest, arm.manifestMediaType);
      // An empty repository: its only blob was deleted, so it lists nothing but still exists.
      await client.deleteBlob("team/empty", await client.pushBlob("team/empty", randomBytes(100)));
    } finally {
      client.close();
      await source.stop();
    }
    await writeFile(join(dir, "embedded.yaml"), stringify(configFromEnv({}, join(dir, "embedded"))));
  });
  after(async () => {
    for (const c of cleanups) await c();
    await rm(dir, { recursive: true, force: true });
  });

  const migrate = (from: string, to: string) =>
    run(process.execPath, [BERTH_BIN, "migrate", "--from", join(dir, from), "--to", join(dir, to)], { allowFail: true, timeoutMs: 300_000 });

  async function scaleTarget(name: string): Promise<Env> {
    const backend = await scaleOutEnv();
    cleanups.push(backend.cleanup);
    await writeFile(join(dir, `${name}.yaml`), stringify(configFromEnv(backend.env, join(dir, name))));
    return backend.env;
  }

  async function assertComplete(berth: BerthProcess): Promise<void> {
    const tags = (await (await fetch(`${berth.url}/v2/team/multi/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ["1.0", "latest"]);
    assert.deepEqual((await pullManifest(berth.url, "team/multi", "latest"))?.content, index.index);
    for (const image of [amd, arm]) {
      assert.deepEqual((await pullManifest(berth.url, "team/multi", image.manifestDigest))?.content, image.manifest);
      for (const [i, layer] of image.layers.entries()) {
        assert.deepEqual(await pullBlob(berth.url, "team/multi", image.layerDigests[i]!), layer);
      }
    }
    assert.deepEqual((await pullManifest(berth.url, "team/single", "arm"))?.content, arm.manifest);
    const catalog = (await (await fetch(`${berth.url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.deepEqual(catalog.repositories, ["team/empty", "team/multi", "team/single"]);
    const empty = await fetch(`${berth.url}/v2/team/empty/tags/list`);
    assert.equal(empty.status, 200, "the empty repository was copied too");
    assert.deepEqual(((await empty.json()) as { tags: string[] | null }).tags ?? [], []);
  }

  it("copies the embedded registry to S3 + PostgreSQL, resuming after a kill, and serves it all", async () => {
    const env = await scaleTarget("scale");
    // Interrupt a first run once it has started copying, then run again to completion.
    const child = spawn(process.execPath, [BERTH_BIN, "migrate", "--from", join(dir, "embedded.yaml"), "--to", join(dir, "scale.yaml")]);
    await new Promise<void>((resolve) => {
      child.stderr.on("data", () => resolve());
      setTimeout(resolve, 2000);
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));

    const result = await migrate("embedded.yaml", "scale.yaml");
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { repositories: number; manifests: number; tags: number; problems: string[]; blobsCopied: number; blobsPresent: number };
    assert.equal(report.repositories, 3);
    assert.deepEqual(report.problems, []);
    assert.match(result.stderr, /100%/, "a progress bar reaches 100%");

    const again = JSON.parse((await migrate("embedded.yaml", "scale.yaml")).stdout) as typeof report;
    assert.equal(again.blobsCopied, 0, "a second run finds everything in place");
    assert.equal(again.manifests, 0);

    const berth = await spawnBerth(join(dir, "scale-node"), env);
    try {
      await assertComplete(berth);
    } finally {
      await berth.stop();
    }
  });

  it("copies it back from S3 + PostgreSQL to a fresh embedded registry", async () => {
    await writeFile(join(dir, "back.yaml"), stringify(configFromEnv({}, join(dir, "back"))));
    const result = await migrate("scale.yaml", "back.yaml");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(join(dir, "back", "auth.db")), false, "a registry without access control gets none");
    assert.equal(existsSync(join(dir, "embedded", "auth.db")), false, "and the source was only read");
    const berth = await spawnBerth(join(dir, "back"));
    try {
      await assertComplete(berth);
    } finally {
      await berth.stop();
    }
  });

  it("refuses to carry a corrupted blob: it reports the digest and exits 1", async () => {
    const hex = sha256(shared).slice(7);
    const file = join(dir, "back", "blobs", "sha256", hex.slice(0, 2), hex);
    const bytes = await readFile(file);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(file, bytes);
    await writeFile(join(dir, "fresh.yaml"), stringify(configFromEnv({}, join(dir, "fresh"))));
    const result = await migrate("back.yaml", "fresh.yaml");
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout) as { problems: string[] };
    assert.ok(report.problems.some((p) => p.includes(sha256(shared)) && p.includes("does not match")), report.problems.join("\n"));
    const berth = await spawnBerth(join(dir, "fresh"));
    try {
      assert.equal((await fetch(`${berth.url}/v2/team/multi/blobs/${sha256(shared)}`)).status, 404, "the corrupted blob was not copied");
    } finally {
      await berth.stop();
    }
  });
});
