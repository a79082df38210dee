import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig, redactConfig } from "../../src/config/load.js";
import { cacheStatus } from "../../src/proxy/cache-status.js";
import { createUpstreams } from "../../src/proxy/upstreams.js";

async function withFile<T>(text: string, use: (file: string, dir: string) => T | Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "berth-proxy-config-"));
  try {
    const file = join(dir, "berth.yaml");
    await writeFile(file, text);
    return await use(file, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("proxy configuration", () => {
  it("reads upstreams with their defaults, and a password from its file without ever showing it", async () => {
    await withFile("", async (_f, dir) => {
      const secret = join(dir, "hub-token");
      await writeFile(secret, "s3cr3t-token\n");
      const file = join(dir, "b.yaml");
      await writeFile(file, `proxy:\n  upstreams:\n    - name: docker.io\n      url: https://registry-1.docker.io\n      default: true\n      username: me\n      passwordFile: ${secret}\n    - name: ghcr.io\n      url: https://ghcr.io\n      tagTtl: 1m\n      repositories: ["org/*"]\n`);
      const config = loadConfig({ file, env: {} });
      const [hub, ghcr] = config.proxy.upstreams;
      assert.equal(hub!.password, "s3cr3t-token");
      assert.equal(hub!.tagTtl, 300_000);
      assert.equal(hub!.timeout, 30_000);
      assert.equal(ghcr!.default, false);
      assert.deepEqual(ghcr!.repositories, ["org/*"]);
      assert.doesNotMatch(JSON.stringify(redactConfig(config)), /s3cr3t/);
    });
  });

  it("refuses what cannot work, naming each setting", async () => {
    const text = `proxy:\n  upstreams:\n    - name: docker.io:443\n      url: ftp://x\n    - name: a\n      url: http://127.0.0.1:1\n      default: true\n      password: p\n    - name: a\n      url: http://127.0.0.1:2\n      default: true\n`;
    await withFile(text, (file) => {
      assert.throws(() => loadConfig({ file, env: {} }), (err) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /proxy\.upstreams\.0\.name: a repository path component/);
        assert.match(err.message, /proxy\.upstreams\.0\.url: an http:\/\/ or https:\/\/ URL/);
        assert.match(err.message, /proxy\.upstreams\.1\.username: required with a password/);
        assert.match(err.message, /proxy\.upstreams\.2\.name: another upstream is named a/);
        assert.match(err.message, /at most one upstream is the default/);
        return true;
      });
    });
  });
});

describe("upstream names", () => {
  const upstreams = createUpstreams([
    { name: "docker.io", url: "https://registry-1.docker.io", default: true, tagTtl: 1000, timeout: 1000 },
    { name: "ghcr.io", url: "https://ghcr.io", default: false, tagTtl: 1000, timeout: 1000, repositories: ["org/*"] },
  ]);
  const none = async () => false;

  it("maps the three client forms onto one cache repository", async () => {
    const forms = [
      await upstreams.resolve("docker.io/library/nginx", undefined, none),
      await upstreams.resolve("docker.io/nginx", undefined, none),
      await upstreams.resolve("library/nginx", undefined, none),
      await upstreams.resolve("nginx", undefined, none),
      await upstreams.resolve("library/nginx", "docker.io", none),
    ];
    for (const r of forms) {
      assert.equal(r.kind, "proxy");
      if (r.kind === "proxy") assert.deepEqual([r.target.upstream.name, r.target.remote, r.target.local], ["docker.io", "library/nginx", "docker.io/library/nginx"]);
    }
  });

  it("serves local repositories and unknown ns locally, and adds library/ only for Docker Hub", async () => {
    assert.equal((await upstreams.resolve("team/app", undefined, async (n) => n === "team/app")).kind, "local");
    assert.equal((await upstreams.resolve("library/nginx", "quay.io", none)).kind, "local");
    const ghcr = await upstreams.resolve("app", "ghcr.io", none);
    assert.ok(ghcr.kind === "proxy" && ghcr.target.local === "ghcr.io/app");
    assert.throws(() => (ghcr.kind === "proxy" ? ghcr.target.upstream.allow("app") : undefined), /ghcr\.io is proxied for org\/\* only \(proxy\.upstreams\[1\]\.repositories\)/);
  });

  it("says hit, miss, collapsed and stale in RFC 9211 terms", () => {
    assert.equal(cacheStatus("hit", 42), "Berth; hit; ttl=42");
    assert.equal(cacheStatus("miss"), "Berth; fwd=uri-miss; stored");
    assert.equal(cacheStatus("collapsed"), "Berth; fwd=uri-miss; collapsed");
    assert.equal(cacheStatus("stale", 3), "Berth; hit; ttl=-1; detail=stale");
  });

  it("closes its connections", () => upstreams.close());
});
