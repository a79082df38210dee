// The pull-through cache with real clients that name the upstream themselves: skopeo by path prefix
// (`HOST/docker.io/library/x`, `HOST/docker.io/x`, `HOST/ghcr.io/org/app`), skopeo picking one
// platform of an index, and podman with a registries.conf mirror of docker.io (which sends names
// without a prefix). Upstreams: the fixture's Docker Hub lookalike as `docker.io` (the default)
// and a second one as `ghcr.io`, both distribution behind a token server.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { run, skipUnlessTools } from "../helpers/tools.js";
import type { SeededImage, SeededIndex } from "../helpers/upstream.js";
import { assertCached, readDirImage, settledLog, startProxySetup, upstreamRequestsFor, type ProxySetup } from "./proxy-support.js";
import { containersEnv, lowercaseTempDir, removeTree, requestLog, showRequests } from "./support.js";

const KiB = 1024;

describe("pull-through cache: skopeo by path prefix and podman with a registries.conf mirror", { skip: skipUnlessTools("docker-registry", "openssl", "skopeo", "podman") }, () => {
  let root: string;
  let p: ProxySetup;
  let env: Record<string, string>;
  let alpine: SeededImage;
  let app: SeededImage;
  let multi: SeededIndex;
  let copies = 0;

  const tool = (cmd: string, args: string[], extraEnv: Record<string, string> = {}) => run(cmd, args, { env: { ...env, ...extraEnv }, timeoutMs: 120_000 });
  /** skopeo copy from Berth into a fresh dir:, read back. */
  async function copyToDir(name: string, ...extra: string[]) {
    const dest = join(root, `copy-${++copies}`);
    await tool("skopeo", ["copy", "--src-tls-verify=false", ...extra, `docker://${p.berth.host}/${name}`, `dir:${dest}`]);
    return readDirImage(dest);
  }

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-proxy-clients");
    env = await containersEnv(join(root, "containers"), "vfs");
    p = await startProxySetup(join(root, "berth"));
    alpine = await p.hub.push("library/alpine", "3.20", { layers: 2, layerBytes: 300 * KiB });
    multi = await p.hub.pushIndex("library/multi", "v1", { layerBytes: 200 * KiB });
    app = await p.ghcr.push("org/app", "v1", { layerBytes: 100 * KiB });
    await p.hub.clearLogs();
    await p.ghcr.clearLogs();
  });

  after(async () => {
    await p?.stop();
    if (root) await removeTree(root);
  });

  it("skopeo copy HOST/docker.io/library/alpine:3.20 pulls through, stores it, and a second copy asks Docker Hub nothing", async () => {
    const first = await copyToDir("docker.io/library/alpine:3.20");
    assert.equal(first.manifestDigest, alpine.manifestDigest, "skopeo got Docker Hub's manifest unchanged");
    assert.deepEqual(first.blobs, [alpine.configDigest, ...alpine.layerDigests].sort(), "config and both layers, intact");
    for (const layer of alpine.layerDigests) assert.equal(p.hub.blobGets(layer), 1, `${layer} fetched once from the upstream`);
    await assertCached(p.berth.url, "docker.io/library/alpine", "3.20", alpine.manifestDigest);

    const before = p.hub.requests().length;
    const second = await copyToDir("docker.io/library/alpine:3.20");
    assert.equal(second.manifestDigest, alpine.manifestDigest);
    assert.deepEqual(second.blobs, first.blobs);
    const asked = p.hub.requests().slice(before).filter((r) => r.path !== "/v2/").map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(asked, [], "within tagTtl the second pull is served from the cache alone");
  });

  it("skopeo copy HOST/docker.io/alpine:3.20 (one segment) is normalised to library/alpine and served from the same cache", async () => {
    await copyToDir("docker.io/library/alpine:3.20"); // warm, in case this test runs alone
    const from = requestLog(p.berth).length;
    const before = p.hub.requests().length;
    const copy = await copyToDir("docker.io/alpine:3.20");
    assert.equal(copy.manifestDigest, alpine.manifestDigest);
    assert.deepEqual(copy.blobs, [alpine.configDigest, ...alpine.layerDigests].sort());
    const asked = p.hub.requests().slice(before).filter((r) => r.path !== "/v2/");
    assert.deepEqual(asked.map((r) => r.path), [], "nothing asked upstream: library/alpine was cached");
    assert.deepEqual(upstreamRequestsFor(p.hub, "alpine"), [], "Docker Hub was never asked for a repository named plain `alpine`");
    const served = (await settledLog(p.berth, from)).filter((r) => r.path.startsWith("/v2/docker.io/alpine/"));
    assert.ok(served.length >= 3 && served.every((r) => r.status === 200), `Berth answered the one-segment name:\n${showRequests(served)}`);
  });

  it("skopeo copy HOST/ghcr.io/org/app:v1 goes to the second upstream, not to the default one", async () => {
    const copy = await copyToDir("ghcr.io/org/app:v1");
    assert.equal(copy.manifestDigest, app.manifestDigest);
    assert.deepEqual(copy.blobs, [app.configDigest, ...app.layerDigests].sort());
    assert.equal(p.ghcr.blobGets(app.layerDigests[0]!), 1, "the layer came from ghcr.io's upstream");
    assert.deepEqual(upstreamRequestsFor(p.hub, "org/app"), [], "docker.io's upstream was not asked");
    assert.ok(p.ghcr.tokenRequests() >= 1, "Berth went through ghcr.io's own token flow");
    await assertCached(p.berth.url, "ghcr.io/org/app", "v1", app.manifestDigest);
  });

  it("skopeo copy --override-arch arm64 of a two-platform index fetches only the arm64 image's blobs from the upstream", async () => {
    const arm = multi.children.find((c) => c.platform.architecture === "arm64")!;
    const amd = multi.children.find((c) => c.platform.architecture === "amd64")!;
    const copy = await copyToDir("docker.io/library/multi:v1", "--override-arch", "arm64", "--override-os", "linux");
    assert.equal(copy.manifestDigest, arm.manifestDigest, "skopeo picked the arm64 manifest from the index");
    assert.deepEqual(copy.blobs, [arm.configDigest, ...arm.layerDigests].sort());
    for (const layer of arm.layerDigests) assert.equal(p.hub.blobGets(layer), 1, `arm64 layer ${layer} fetched once`);
    for (const blob of [amd.configDigest, ...amd.layerDigests]) assert.equal(p.hub.blobGets(blob), 0, `amd64 blob ${blob} never fetched`);
    assert.equal(p.hub.manifestGets(amd.manifestDigest), 0, "nor the amd64 manifest");
    await assertCached(p.berth.url, "docker.io/library/multi", "v1", multi.indexDigest);
    await assertCached(p.berth.url, "docker.io/library/multi", arm.manifestDigest, arm.manifestDigest);
  });

  it("skopeo push of a pulled image to a new repository works: a name not yet local is not answered from the cache", async () => {
    const pulled = join(root, `copy-${++copies}`);
    await tool("skopeo", ["copy", "--src-tls-verify=false", `docker://${p.berth.host}/docker.io/library/alpine:3.20`, `dir:${pulled}`]);
    const from = requestLog(p.berth).length;
    const before = p.hub.requests().length;
    // skopeo HEADs each blob in team/base first; its layers are in Berth (docker.io/library/alpine) already
    await tool("skopeo", ["copy", "--dest-tls-verify=false", `dir:${pulled}`, `docker://${p.berth.host}/team/base:1`]);
    const sent = await settledLog(p.berth, from);
    const heads = sent.filter((r) => r.method === "HEAD" && r.path.startsWith("/v2/team/base/blobs/"));
    assert.ok(heads.length > 0 && heads.every((r) => r.status === 404), `team/base is a new local repository to skopeo:\n${showRequests(sent)}`);
    assert.deepEqual(p.hub.requests().slice(before).map((r) => r.path), [], "the upstream was not asked about a push");
    const copy = await copyToDir("team/base:1");
    assert.equal(copy.manifestDigest, alpine.manifestDigest, "the pushed image reads back whole from Berth's own team/base");
    assert.equal((await fetch(`${p.berth.url}/v2/team/base/manifests/1`, { method: "HEAD" })).headers.get("cache-status"), null, "served as a local repository");
  });

  it("podman pull with registries.conf mirrors: docker.io/library/busybox (no prefix, the default upstream) and ghcr.io/org/tool (a location with the ghcr.io/ prefix)", async () => {
    const busybox = await p.hub.push("library/busybox", "1.36", { layerBytes: 200 * KiB });
    const conf = join(root, "registries.conf");
    await writeFile(conf, [
      "unqualified-search-registries = []",
      "",
      "[[registry]]",
      'location = "docker.io"',
      "",
      "[[registry.mirror]]",
      `location = "${p.berth.host}"`,
      "insecure = true",
      "",
      // any other registry: a mirror location with the upstream's prefix
      "[[registry]]",
      'location = "ghcr.io"',
      "",
      "[[registry.mirror]]",
      `location = "${p.berth.host}/ghcr.io"`,
      "insecure = true",
      "",
    ].join("\n"));
    const from = requestLog(p.berth).length;
    const podmanEnv = { CONTAINERS_REGISTRIES_CONF: conf };
    // docker.io itself is unreachable here: only the mirror can have served this pull
    await tool("podman", ["pull", "--quiet", "docker.io/library/busybox:1.36"], podmanEnv);
    const inspected = JSON.parse((await tool("podman", ["image", "inspect", "docker.io/library/busybox:1.36"], podmanEnv)).stdout) as {
      Id: string;
      Digest: string;
    }[];
    assert.equal(inspected[0]?.Digest, busybox.manifestDigest, "podman stored Docker Hub's manifest digest");
    assert.equal(`sha256:${inspected[0]?.Id}`, busybox.configDigest, "the image is the one seeded upstream");

    const sent = await settledLog(p.berth, from);
    const manifest = sent.find((r) => r.method === "GET" && r.path === "/v2/library/busybox/manifests/1.36");
    assert.ok(manifest && manifest.status === 200, `podman asked the mirror for library/busybox without a prefix:\n${showRequests(sent)}`);
    assert.equal(p.hub.blobGets(busybox.layerDigests[0]!), 1);
    await assertCached(p.berth.url, "docker.io/library/busybox", "1.36", busybox.manifestDigest);

    const tool2 = await p.ghcr.push("org/tool", "2", { layerBytes: 50 * KiB });
    await tool("podman", ["pull", "--quiet", "ghcr.io/org/tool:2"], podmanEnv);
    const [viaPrefix] = JSON.parse((await tool("podman", ["image", "inspect", "ghcr.io/org/tool:2"], podmanEnv)).stdout) as { Digest: string }[];
    assert.equal(viaPrefix?.Digest, tool2.manifestDigest, "ghcr.io through a mirror location with the ghcr.io/ prefix");
    await assertCached(p.berth.url, "ghcr.io/org/tool", "2", tool2.manifestDigest);
  });
});
