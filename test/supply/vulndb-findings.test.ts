import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Config } from "../../src/config/schema.js";
import { createSqliteMetadataStore } from "../../src/storage/drivers/sqlite-metadata-store.js";
import type { MetadataStore } from "../../src/storage/metadata-store.js";
import type { Package } from "../../src/supply/packages.js";
import { importOsv } from "../../src/supply/vulns/import.js";
import { createVulnerabilities, type SbomSource } from "../../src/supply/vulns/vulns.js";
import { allOsvFixtures, recordEntry, writeAdvisoryUpdate, writeZip } from "./vulndb-fixtures.js";

const deb = (name: string, version: string, source?: [string, string]): Package => ({
  ecosystem: "Debian:9",
  name,
  version,
  ...(source ? { source: { name: source[0], version: source[1] } } : {}),
  purl: `pkg:deb/debian/${name}@${version}?distro=debian-9`,
  locations: ["var/lib/dpkg/status"],
});
const pkg = (ecosystem: string, name: string, version: string, source?: [string, string]): Package => ({
  ecosystem,
  name,
  version,
  ...(source ? { source: { name: source[0], version: source[1] } } : {}),
  purl: `pkg:generic/${name}@${version}`,
  locations: ["somewhere"],
});

/** A Debian 9 image with an OpenSSL before the DLA's fix, a Node app, a Python app and a Go binary. */
const APP = "sha256:" + "a".repeat(64);
const APP_PACKAGES: Package[] = [
  deb("libssl1.1", "1.1.0l-1~deb9u5", ["openssl", "1.1.0l-1~deb9u5"]),
  deb("openssl", "1.1.0l-1~deb9u5", ["openssl", "1.1.0l-1~deb9u5"]),
  deb("openssl", "1.1.0l-1~deb9u5", ["openssl", "1.1.0l-1~deb9u5"]), // listed twice (two databases): one finding
  deb("libc6", "2.24-11+deb9u4", ["glibc", "2.24-11+deb9u4"]),
  pkg("npm", "ansi-html", "0.0.7"),
  pkg("npm", "@cypress/request", "2.88.10"),
  pkg("npm", "request", "2.88.2"),
  pkg("npm", "left-pad", "1.3.0"),
  pkg("PyPI", "Django", "3.1.5"),
  pkg("PyPI", "Flask", "2.3.1"),
  pkg("Go", "stdlib", "go1.18.1"),
  pkg("Go", "golang.org/x/sys", "v0.0.0-20220310020820-b874c991c1a5"),
];
/** Alpine and Ubuntu images, and one whose packages are all fixed. */
const ALPINE = "sha256:" + "b".repeat(64);
const UBUNTU = "sha256:" + "c".repeat(64);
const PATCHED = "sha256:" + "d".repeat(64);
/** A package whose source no advisory names: looked up, and compared, by its own name and version. */
const FALLBACK = "sha256:" + "f".repeat(64);
const IMAGES: Record<string, Package[]> = {
  [APP]: APP_PACKAGES,
  [ALPINE]: [pkg("Alpine:v3.19", "musl-utils", "1.2.4_git20230717-r4", ["musl", "1.2.4_git20230717-r4"])],
  [UBUNTU]: [pkg("Ubuntu:22.04:LTS", "openssh-client", "1:8.9p1-3ubuntu0.6", ["openssh", "1:8.9p1-3ubuntu0.6"])],
  [FALLBACK]: [deb("openssl", "1.1.0l-1~deb9u1", ["openssl-local", "9.9-1"])],
  [PATCHED]: [deb("libssl1.1", "1.1.0l-1~deb9u6", ["openssl", "1.1.0l-1~deb9u6"]), pkg("npm", "ansi-html", "0.0.8"), pkg("PyPI", "django", "3.2.4")],
};

function sbomSource(): SbomSource & { calls: number } {
  return {
    calls: 0,
    async packagesOf(_repo, digest) {
      this.calls++;
      const packages = IMAGES[digest];
      return packages ? { packages: structuredClone(packages) } : undefined;
    },
  };
}

const policies = (list: { repositories: string[]; refuseAt: "none" | "low" | "medium" | "high" | "critical"; allow?: string[] }[]) =>
  ({ vulnerabilities: { policies: list.map((p, i) => ({ name: `vulnerabilities.policies[${i}]`, allow: [], ...p })) } }) as Pick<Config, "vulnerabilities">;

describe("vulnerability findings from stored SBOMs", () => {
  let dir: string;
  let store: MetadataStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-vulns-"));
    store = createSqliteMetadataStore({ path: join(dir, "berth.db"), create: true });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reports no database until one is imported, then matches distro packages by source, npm, PyPI and Go", async () => {
    const vulns = createVulnerabilities({ store, sboms: sbomSource(), config: policies([]), generationTtlMs: 0 });
    const empty = await vulns.report("team/app", APP);
    assert.equal(empty.status, "no-database");
    assert.equal(empty.database.generation, 0);

    const zip = join(dir, "all.zip");
    await writeZip(zip, allOsvFixtures().map(recordEntry));
    await importOsv({ store, files: [zip] });

    const report = await vulns.report("team/app", APP);
    assert.equal(report.status, "scanned");
    assert.equal(report.database.generation, 1);
    assert.ok(report.database.importedAt);
    assert.deepEqual(
      report.findings.map((f) => [f.id, f.severity, f.package, f.installed, f.fixed]),
      [
        ["GHSA-whgm-jr23-g3j9", "high", "ansi-html", "0.0.7", "0.0.8"],
        ["GHSA-p8p7-x288-28g6", "medium", "@cypress/request", "2.88.10", undefined],
        ["GHSA-p8p7-x288-28g6", "medium", "request", "2.88.2", undefined],
        ["DLA-3008-1", "unknown", "libssl1.1", "1.1.0l-1~deb9u5", "1.1.0l-1~deb9u6"],
        ["DLA-3008-1", "unknown", "openssl", "1.1.0l-1~deb9u5", "1.1.0l-1~deb9u6"],
        ["GO-2022-0493", "unknown", "golang.org/x/sys", "v0.0.0-20220310020820-b874c991c1a5", "0.0.0-20220412211240-33da011f77ad"],
        ["GO-2022-0493", "unknown", "stdlib", "go1.18.1", "1.18.2"],
        ["PYSEC-2021-98", "unknown", "Django", "3.1.5", "3.1.12"],
        ["PYSEC-2023-62", "unknown", "Flask", "2.3.1", "2.3.2"],
      ],
    );
    const dla = report.findings.find((f) => f.package === "libssl1.1")!;
    assert.deepEqual(dla.source, { name: "openssl", version: "1.1.0l-1~deb9u5" });
    assert.ok(dla.aliases.includes("CVE-2022-1292"));
    assert.deepEqual(report.counts, { critical: 0, high: 1, medium: 2, low: 0, unknown: 6 });

    const alpine = await vulns.findings("team/alpine", ALPINE);
    assert.deepEqual(alpine?.map((f) => [f.id, f.package, f.fixed, f.severity]), [["ALPINE-CVE-2025-26519", "musl-utils", "1.2.4_git20230717-r5", "high"]]);
    const ubuntu = await vulns.findings("team/ubuntu", UBUNTU);
    assert.deepEqual(ubuntu?.map((f) => [f.id, f.package, f.fixed, f.severity]), [["UBUNTU-CVE-2024-6387", "openssh-client", "1:8.9p1-3ubuntu0.10", "high"]]);
    assert.deepEqual(await vulns.findings("team/app", PATCHED), []);
    assert.deepEqual((await vulns.findings("team/app", FALLBACK))?.map((f) => [f.id, f.package, f.installed, f.fixed, f.source]), [["DLA-3008-1", "openssl", "1.1.0l-1~deb9u1", "1.1.0l-1~deb9u6", undefined]]);
    assert.equal((await vulns.report("team/app", "sha256:" + "e".repeat(64))).status, "no-sbom");
  });

  it("keeps results per image until the database changes, then recomputes them from the SBOM", async () => {
    const sboms = sbomSource();
    const vulns = createVulnerabilities({ store, sboms, config: policies([]), generationTtlMs: 0 });
    const before = await vulns.findings("team/app", APP);
    await vulns.findings("team/app", APP);
    await vulns.report("team/app", APP);
    assert.equal(sboms.calls, 1);
    assert.equal(before?.find((f) => f.package === "openssl")?.fixed, "1.1.0l-1~deb9u6");

    const update = join(dir, "update.zip");
    await writeAdvisoryUpdate(update);
    assert.equal((await importOsv({ store, files: [update] })).generation, 2);

    const after = await vulns.findings("team/app", APP);
    assert.equal(sboms.calls, 2);
    assert.equal(after?.find((f) => f.package === "openssl")?.fixed, "1.1.0l-1~deb9u7");
    assert.deepEqual(after?.filter((f) => f.id === "GHSA-p8p7-x288-28g6").map((f) => f.package), ["request"]);
    // The image that had the old fix is now vulnerable too.
    assert.deepEqual((await vulns.findings("team/app", PATCHED))?.map((f) => [f.id, f.package]), [["DLA-3008-1", "libssl1.1"]]);
  });

  it("refuses pulls at or above the policy's severity, names the worst findings, and honours allow by alias", async () => {
    const sboms = sbomSource();
    const config = policies([
      { repositories: ["prod/*"], refuseAt: "high" },
      { repositories: ["lab/*"], refuseAt: "high", allow: ["CVE-2021-23424"] },
      { repositories: ["strict/*"], refuseAt: "low" },
      { repositories: ["**"], refuseAt: "none" },
    ]);
    const vulns = createVulnerabilities({ store, sboms, config, generationTtlMs: 0 });
    const refused = await vulns.checkPull("prod/app", APP);
    assert.equal(refused?.policy, "vulnerabilities.policies[0]");
    assert.equal(
      refused?.message,
      "vulnerabilities.policies[0] (prod/*) refuses images with findings at or above high: 1 vulnerability " +
        "(GHSA-whgm-jr23-g3j9 (CVE-2021-23424) high in ansi-html 0.0.7, fixed in 0.0.8); allow them in the policy or rebuild the image",
    );
    assert.match((await vulns.checkPull("prod/ubuntu", UBUNTU))!.message, /UBUNTU-CVE-2024-6387 \(CVE-2024-6387\) high in openssh 1:8\.9p1-3ubuntu0\.6 \(openssh-client\), fixed in 1:8\.9p1-3ubuntu0\.10/);
    // The GHSA is allowed by its CVE alias; medium and unknown findings stay below the threshold.
    assert.equal(await vulns.checkPull("lab/app", APP), undefined);
    assert.equal(await vulns.checkPull("other/app", APP), undefined);
    assert.equal(await vulns.checkPull("prod/app", PATCHED), undefined);
    // No SBOM yet: allowed, and asked again next time.
    assert.equal(await vulns.checkPull("prod/app", "sha256:" + "e".repeat(64)), undefined);
    const strict = await vulns.checkPull("strict/app", APP);
    assert.match(strict!.message, /at or above low: 2 vulnerabilities \(GHSA-whgm-jr23-g3j9 \(CVE-2021-23424\) high .*; GHSA-p8p7-x288-28g6 .*medium in request 2\.88\.2, no fix yet\)/);
  });
});
