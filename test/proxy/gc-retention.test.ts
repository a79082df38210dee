// Garbage collection and retention on the pull-through cache's namespace (docker.io/**): cached
// content counts in usage, a retention rule drops tags not pulled (or cached) within a window, GC
// reclaims their bytes, and pulls running while GC and retention run over and over (grace 0) never
// get a short or wrong blob.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipUnlessTools } from "../helpers/tools.js";
import { startUpstream, type SeededImage, type Upstream } from "../helpers/upstream.js";
import { blobsOf, get, manifestOf, pullAll, sleep, startHubProxy, type HubProxy } from "./hub-support.js";

const WINDOW_MS = 2000;
const SOAK_MS = 10_000;

interface UsageTotals {
  manifests: number;
  blobs: number;
  blobBytes: number;
  referencedBytes: number;
}

describe("pull-through cache: garbage collection and retention", { skip: skipUnlessTools("docker-registry", "skopeo", "openssl") }, () => {
  let up: Upstream;
  let proxy: HubProxy;
  let old: SeededImage;
  const soaked: SeededImage[] = [];

  const post = async (path: string) => {
    const res = await get(`${proxy.url}${path}`, { method: "POST" });
    assert.equal(res.status, 200, `${path}: ${res.body}`);
    return JSON.parse(res.body.toString("utf8"));
  };
  const usage = async (scope: string): Promise<{ status: number; total?: UsageTotals; repositories?: { name: string }[] }> => {
    const res = await get(`${proxy.url}/api/v1/usage/${scope}`);
    return { status: res.status, ...(res.status === 200 ? JSON.parse(res.body.toString("utf8")) : {}) };
  };

  before(async () => {
    up = await startUpstream();
    old = await up.push("library/old", "v1", { layerBytes: 256 << 10 });
    await up.push("library/recent", "v1", { layerBytes: 256 << 10 });
    for (let i = 0; i < 4; i++) soaked.push(await up.push(`library/soak-${i}`, "v1", { layerBytes: 96 << 10, layers: 2 }));
    proxy = await startHubProxy(up, { tagTtl: "0s" }, {
      more: {
        gc: { schedule: "off", grace: "0s", deleteUntagged: true },
        retention: { rules: [{ name: "hub-cache", repositories: "docker.io/**", keepWithin: `${WINDOW_MS / 1000}s`, deleteUntagged: true }] },
      },
    });
    await up.clearLogs();
  });
  after(async () => {
    await proxy?.stop();
    await up?.stop();
  });

  it("counts cached blobs in usage; retention drops the tag not pulled within the window, GC reclaims its bytes, a pull fetches it again", async () => {
    assert.equal((await manifestOf(proxy.url, "docker.io/library/old", "v1")).status, 200);
    const manifestOnly = await usage("docker.io/library/old");
    assert.deepEqual([manifestOnly.total!.manifests, manifestOnly.total!.blobs], [1, 0], "blobs count once they are cached, not when a manifest names them");
    const first = await pullAll(proxy.url, "docker.io/library/old", "v1");
    assert.deepEqual(first.blobs.map((b) => b.digest), blobsOf(old));
    const cached = await usage("docker.io/library/old");
    assert.equal(cached.status, 200);
    assert.equal(cached.total!.blobs, 2, "config and layer");
    assert.ok(cached.total!.blobBytes >= old.layerSizes[0]!, JSON.stringify(cached.total));

    await sleep(WINDOW_MS + 100);
    await pullAll(proxy.url, "docker.io/library/recent", "v1");
    const retention = await post("/api/v1/retention?wait=true");
    const repo = (name: string) => retention.repositories.find((r: { repository: string }) => r.repository === name);
    assert.deepEqual(repo("docker.io/library/old").deleted.map((t: { tag: string }) => t.tag), ["v1"]);
    assert.equal(repo("docker.io/library/old").rule, "hub-cache");
    assert.deepEqual(repo("docker.io/library/recent").kept.map((t: { tag: string; reasons: string[] }) => [t.tag, t.reasons]), [["v1", ["keepWithin:pushed", "keepWithin:pulled"]]]);

    const before = (await (await fetch(`${proxy.url}/api/v1/usage?fresh=true`)).json()) as { storedBytes: number };
    const gc = await post("/api/v1/gc?wait=true");
    assert.ok(gc.blobsDeleted >= 2 && gc.bytesReclaimed >= old.layerSizes[0]!, JSON.stringify(gc));
    const afterGc = (await (await fetch(`${proxy.url}/api/v1/usage?fresh=true`)).json()) as { storedBytes: number };
    assert.ok(before.storedBytes - afterGc.storedBytes >= old.layerSizes[0]!, `stored ${before.storedBytes} → ${afterGc.storedBytes}`);
    const gone = await usage("docker.io/library/old");
    assert.ok(gone.status === 404 || gone.total!.blobBytes === 0, JSON.stringify(gone));
    assert.equal((await usage("docker.io/library/recent")).total!.blobs, 2, "the kept image is untouched");

    const again = await pullAll(proxy.url, "docker.io/library/old", "v1");
    assert.equal(again.manifest.headers.get("cache-status"), "Berth; fwd=uri-miss; stored");
    assert.deepEqual(again.blobs.map((b) => [b.status, b.digest, b.headers.get("cache-status")]), blobsOf(old).map((d) => [200, d, "Berth; fwd=uri-miss; stored"]));
    assert.equal(await up.distributionBlobSends(old.layerDigests[0]!), 2);
  });

  it(`never hands out a short or wrong blob while pulls run for ${SOAK_MS / 1000} s against retention and GC with grace 0`, async (t) => {
    const until = Date.now() + SOAK_MS;
    const bad: string[] = [];
    const failures: string[] = [];
    let blobsChecked = 0;
    let gcRuns = 0;
    let reclaimed = 0;
    const puller = async (worker: number) => {
      for (let n = worker; Date.now() < until; n++) {
        const image = soaked[n % soaked.length]!;
        const pull = await pullAll(proxy.url, `docker.io/${image.name}`, "v1");
        if (pull.manifest.status !== 200) {
          failures.push(`manifest ${image.name}: ${pull.manifest.status} ${pull.manifest.body}`);
          continue;
        }
        for (const blob of pull.blobs) {
          blobsChecked++;
          if (blob.status !== 200) failures.push(`blob ${blob.wanted}: ${blob.status}`);
          else if (blob.error || blob.digest !== blob.wanted) bad.push(`${blob.wanted}: ${blob.bytes} bytes, ${blob.digest || blob.error?.message}`);
        }
      }
    };
    const collector = async () => {
      while (Date.now() < until) {
        await post("/api/v1/retention?wait=true");
        const report = await post("/api/v1/gc?wait=true");
        gcRuns++;
        reclaimed += report.blobsDeleted ?? 0;
        await sleep(200);
      }
    };
    await Promise.all([puller(0), puller(1), puller(2), puller(3), collector()]);
    t.diagnostic(`${blobsChecked} blobs pulled and checked, ${gcRuns} retention + GC runs, ${reclaimed} blobs reclaimed, ${failures.length} failed pulls`);
    assert.deepEqual(bad, [], "short or wrong blobs");
    assert.ok(blobsChecked > 100, `${blobsChecked} blobs pulled`);
    assert.ok(gcRuns >= 3, `${gcRuns} GC runs`);
    assert.ok(reclaimed > 0, "GC reclaimed cached blobs during the soak");
    assert.deepEqual(failures, [], "failed pulls");
  });
});
