// SBOMs end to end: real skopeo pushes images carrying this machine's dpkg database, an
// os-release, a Python dist-info and an npm package to a Berth server; the SBOM shows up as a
// CycloneDX referrer through the OCI referrers API, once per image and per platform.
// BERTH_TEST_BACKEND=s3-postgres (under scripts/test-with-services.sh) runs it on S3 + PostgreSQL.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { packagesFromCycloneDx } from "../../src/supply/sbom/cyclonedx.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { writeImageLayout, writeMultiArchLayout, type ImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { lowercaseTempDir } from "../e2e/support.js";

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/sbom/${name}`, import.meta.url));
const CYCLONEDX = "application/vnd.cyclonedx+json";

const debianFiles = {
  "etc/os-release": fixture("os-release-debian"),
  "var/lib/dpkg/status": fixture("dpkg-status"),
  "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA": fixture("pyyaml-METADATA"),
};
const alpineFiles = { "etc/os-release": fixture("os-release-alpine"), "lib/apk/db/installed": fixture("apk-installed") };

interface Referrers { manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[] }

describe("SBOMs of images pushed with skopeo", { skip: skipUnlessTools("skopeo") }, () => {
  let root: string;
  let berth: TestBerth;
  let image: ImageLayout;

  const skopeo = (...args: string[]) => run("skopeo", ["copy", "--dest-tls-verify=false", ...args], { timeoutMs: 90_000 });
  const get = async (path: string, accept?: string) => {
    const res = await fetch(`${berth.url}${path}`, accept ? { headers: { Accept: accept } } : {});
    assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
    return res;
  };
  const referrers = async (name: string, digest: string) => (await (await get(`/v2/${name}/referrers/${digest}`)).json()) as Referrers;
  /** The SBOM as a client finds it: referrers API → manifest → its CycloneDX layer. */
  const sbomOf = async (name: string, digest: string) => {
    const found = (await referrers(name, digest)).manifests.filter((m) => m.artifactType === CYCLONEDX);
    assert.equal(found.length, 1, `one SBOM for ${name}@${digest}`);
    const manifest = (await (await get(`/v2/${name}/manifests/${found[0]!.digest}`, "application/vnd.oci.image.manifest.v1+json")).json()) as {
      artifactType: string; config: { mediaType: string }; layers: { mediaType: string; digest: string }[]; subject: { digest: string }; annotations: Record<string, string>;
    };
    const blob = await (await get(`/v2/${name}/blobs/${manifest.layers[0]!.digest}`)).text();
    return { referrer: found[0]!, manifest, json: JSON.parse(blob) as Record<string, unknown>, ...packagesFromCycloneDx(blob) };
  };

  before(async () => {
    root = await lowercaseTempDir("berth-sbom-e2e");
    berth = await startBerth({ BERTH_SBOMS: "true" });
    image = await writeImageLayout(join(root, "app"), {
      ref: "1.0",
      layers: [{ files: debianFiles }, { files: { "srv/app/node_modules/commander/package.json": JSON.stringify({ name: "commander", version: "14.0.3" }) } }],
    });
  });

  after(async () => {
    await berth?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("lists the image's Debian, Python and npm packages in a CycloneDX referrer", async () => {
    await skopeo(`oci:${image.dir}:1.0`, `docker://${berth.host}/team/app:1.0`);
    await berth.berth.supply.sboms.settled();
    const sbom = await sbomOf("team/app", image.manifestDigest);
    assert.equal(sbom.manifest.artifactType, CYCLONEDX);
    assert.equal(sbom.manifest.config.mediaType, "application/vnd.oci.empty.v1+json");
    assert.equal(sbom.manifest.subject.digest, image.manifestDigest);
    assert.match(sbom.manifest.annotations["dev.berth.sbom.generator"]!, /^berth /);
    assert.ok(sbom.referrer.annotations?.["org.opencontainers.image.created"]);
    assert.equal(sbom.json.specVersion, "1.6");
    assert.equal(sbom.os?.ecosystem, "Debian:12");
    const libc = sbom.packages.find((p) => p.name === "libc6")!;
    assert.equal(libc.ecosystem, "Debian:12");
    assert.deepEqual(libc.source, { name: "glibc", version: "2.36-9+deb12u14" });
    assert.ok(sbom.packages.some((p) => p.ecosystem === "PyPI" && p.name === "PyYAML" && p.version === "6.0"));
    assert.ok(sbom.packages.some((p) => p.ecosystem === "npm" && p.purl === "pkg:npm/commander@14.0.3"));
    const report = await berth.berth.supply.sboms.report("team/app", image.manifestDigest as never);
    assert.deepEqual(report, { status: "ready", referrer: sbom.referrer.digest, packages: 14, ecosystems: { "Debian:12": 12, PyPI: 1, npm: 1 }, os: "Debian:12" });
    assert.deepEqual((await berth.berth.supply.sboms.packagesOf("team/app", image.manifestDigest as never))?.packages.length, 14);
    // The audit log and webhooks say who pushed it.
    const events = await berth.berth.registry.stores.metadataStore.listEvents({ limit: 1000 });
    const pushed = events.find((e) => e.type === "manifest.pushed" && e.target?.digest === sbom.referrer.digest);
    assert.equal(pushed?.actor, "berth:sbom");
  });

  it("does not make a second SBOM when the image is pushed again, and reuses the first in another repository", async () => {
    const first = (await referrers("team/app", image.manifestDigest)).manifests;
    await skopeo(`oci:${image.dir}:1.0`, `docker://${berth.host}/team/app:again`);
    await skopeo(`oci:${image.dir}:1.0`, `docker://${berth.host}/other/copy:1.0`);
    await berth.berth.supply.sboms.settled();
    assert.deepEqual((await referrers("team/app", image.manifestDigest)).manifests, first);
    // A regenerated SBOM would carry a new serial number, hence another referrer digest.
    assert.deepEqual((await referrers("other/copy", image.manifestDigest)).manifests.map((m) => m.digest), first.map((m) => m.digest));
  });

  it("makes one SBOM per platform of an index pushed with --all, none for the index", async () => {
    const multi = await writeMultiArchLayout(join(root, "multi"), {
      ref: "1.0",
      platforms: [{ arch: "amd64", layers: [{ files: debianFiles }] }, { arch: "arm64", layers: [{ files: alpineFiles }] }],
    });
    await skopeo("--all", `oci:${multi.dir}:1.0`, `docker://${berth.host}/team/multi:1.0`);
    await berth.berth.supply.sboms.settled();
    const [amd64, arm64] = await Promise.all(multi.manifestDigests.map((d) => sbomOf("team/multi", d)));
    assert.equal(amd64!.os?.ecosystem, "Debian:12");
    assert.equal(arm64!.os?.ecosystem, "Alpine:v3.19");
    assert.deepEqual(arm64!.packages.find((p) => p.name === "busybox-binsh")?.source, { name: "busybox", version: "1.36.1-r15" });
    assert.equal((await referrers("team/multi", multi.indexDigest)).manifests.length, 0);
    assert.equal((await berth.berth.supply.sboms.report("team/multi", multi.indexDigest as never)).status, "none");
  });
});
