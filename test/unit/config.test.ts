import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig, redactConfig } from "../../src/config/load.js";

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

  it("selects S3 and PostgreSQL from the environment operators and scripts rely on", () => {
    const config = loadConfig({
      env: {
        BERTH_STORAGE_DRIVER: "s3",
        BERTH_S3_ENDPOINT: "http://127.0.0.1:7480",
        BERTH_S3_REGION: "eu-west-1",
        BERTH_S3_BUCKET: "images",
        BERTH_S3_ACCESS_KEY: "AK",
        BERTH_S3_SECRET_KEY: "SK",
        BERTH_S3_FORCE_PATH_STYLE: "true",
        BERTH_DATABASE_URL: "postgres://berth:pw@127.0.0.1:5432/berth",
      },
    });
    assert.equal(config.storage.driver, "s3");
    assert.deepEqual(
      [config.storage.s3.endpoint, config.storage.s3.region, config.storage.s3.bucket, config.storage.s3.forcePathStyle],
      ["http://127.0.0.1:7480", "eu-west-1", "images", true],
    );
    assert.equal(config.database.driver, "postgres", "a postgres:// URL selects PostgreSQL");
    assert.equal(loadConfig({ env: {} }).database.driver, "sqlite");
  });

  it("reads secrets from files and never prints them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-config-"));
    await writeFile(join(dir, "sk"), "s3cr3t\n");
    await writeFile(join(dir, "db"), "postgres://berth:hunter2@db:5432/berth\n");
    const config = loadConfig({
      env: { BERTH_STORAGE_DRIVER: "s3", BERTH_S3_BUCKET: "images", BERTH_S3_SECRET_KEY_FILE: join(dir, "sk"), BERTH_DATABASE_URL_FILE: join(dir, "db") },
    });
    assert.equal(config.storage.s3.secretKey, "s3cr3t");
    assert.equal(config.database.url, "postgres://berth:hunter2@db:5432/berth");
    const printed = JSON.stringify(redactConfig(config));
    assert.ok(!printed.includes("s3cr3t") && !printed.includes("hunter2"), printed);
    assert.match(printed, /postgres:\/\/berth:\*+@db:5432\/berth/);
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses an S3 store without a bucket and a postgres driver without a URL", () => {
    assert.throws(() => loadConfig({ env: { BERTH_STORAGE_DRIVER: "s3" } }), /storage\.s3\.bucket: required/);
    assert.throws(() => loadConfig({ env: { BERTH_DATABASE_DRIVER: "postgres" } }), /database\.url/);
    assert.throws(() => loadConfig({ env: { BERTH_STORAGE_DRIVER: "gcs" } }), /storage\.driver/);
  });
});
