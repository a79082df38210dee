import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/load.js";

describe("loadConfig", () => {
  it("defaults to 127.0.0.1:5000 and ./data", () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.listen, "127.0.0.1:5000");
    assert.equal(config.data, resolve("./data"));
    assert.equal(config.storage.fsync, true);
    assert.equal(config.manifests.maxSize, 4 * 1024 * 1024);
    assert.equal(config.uploads.expiry, 24 * 3600 * 1000);
  });

  it("applies file < environment < flags", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-config-"));
    const file = join(dir, "berth.yaml");
    await writeFile(file, "listen: 127.0.0.1:6000\ndata: /srv/a\nlog:\n  level: warn\nuploads:\n  expiry: 2h\n");
    const fromFile = loadConfig({ file, env: {} });
    assert.deepEqual([fromFile.listen, fromFile.data, fromFile.log.level, fromFile.uploads.expiry], ["127.0.0.1:6000", "/srv/a", "warn", 7_200_000]);
    const fromEnv = loadConfig({ file, env: { BERTH_DATA: "/srv/b", BERTH_FSYNC: "false", BERTH_MANIFEST_MAX_SIZE: "1MiB" } });
    assert.deepEqual([fromEnv.data, fromEnv.storage.fsync, fromEnv.manifests.maxSize], ["/srv/b", false, 1024 * 1024]);
    const fromFlags = loadConfig({ env: { BERTH_CONFIG: file, BERTH_DATA: "/srv/b" }, overrides: { data: "/srv/c" } });
    assert.deepEqual([fromFlags.listen, fromFlags.data], ["127.0.0.1:6000", "/srv/c"]);
    await rm(dir, { recursive: true, force: true });
  });

  it("fails fast with a message naming each bad setting", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-config-"));
    const file = join(dir, "bad.yaml");
    await writeFile(file, "listen: nowhere\nuploads:\n  expiry: soon\nstorage:\n  drivr: s3\n");
    assert.throws(() => loadConfig({ file, env: {} }), (err) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /listen: not a listen address: nowhere/);
      assert.match(err.message, /uploads\.expiry: not a duration: soon/);
      assert.match(err.message, /drivr/);
      return true;
    });
    assert.throws(() => loadConfig({ file: join(dir, "missing.yaml"), env: {} }), /cannot read config file/);
    assert.throws(() => loadConfig({ env: { BERTH_FSYNC: "maybe" } }), /storage\.fsync: not a boolean/);
    await rm(dir, { recursive: true, force: true });
  });
});
