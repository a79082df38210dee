// The vulnerability pull policy seen by a real client: skopeo pushes an image carrying a real dpkg
// database (glibc 2.36-9+deb12u14), Berth generates its SBOM, an OSV import makes it vulnerable,
// and skopeo's next pull is refused with the policy's message; the allow-list and a re-import
// with the fix at the installed version let it through again, without the layers being read.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { importOsv } from "../../src/supply/vulns/import.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { writeImageLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { writeZip } from "../supply/vulndb-fixtures.js";
import { lowercaseTempDir } from "./support.js";

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/sbom/${name}`, import.meta.url));

const POLICIES = `
vulnerabilities:
  policies:
    - repositories: ["prod/*"]
      refuseAt: high
    - repositories: ["lab/*"]
      refuseAt: high
      allow: [CVE-2023-4911]
`;

/** Shaped as OSV's Debian records (schema 1.7 `upstream`, Debian's urgency), for the fixture's glibc source package. */
const advisory = (fixed: string) => ({
  schema_version: "1.7.0",
  id: "DEBIAN-CVE-2023-4911",
  modified: new Date().toISOString(),
  upstream: ["CVE-2023-4911"],
  summary: "A buffer overflow was discovered in the GNU C Library's dynamic loader ld.so",
  affected: [
    {
      package: { ecosystem: "Debian:12", name: "glibc" },
      ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed }] }],
      ecosystem_specific: { urgency: "high" },
    },
  ],
});

describe("vulnerability policy with skopeo", { skip: skipUnlessTools("skopeo") }, () => {
  let root: string;
  let berth: TestBerth;
  const inspect = (name: string) =>
    run("skopeo", ["inspect", "--tls-verify=false", `docker://${berth.host}/${name}`], { allowFail: true, timeoutMs: 60_000 });
  const importAdvisory = async (fixed: string, file: string) => {
    const zip = join(root, file);
    await writeZip(zip, [{ name: "DEBIAN-CVE-2023-4911.json", text: JSON.stringify(advisory(fixed)) }]);
    await importOsv({ store: berth.berth.registry.stores.metadataStore, files: [zip] });
  };
  /** Nodes re-read the database generation every 2 s: the next pulls see an import within that. */
  const eventually = async (name: string, refused: boolean) => {
    for (let i = 0; ; i++) {
      const res = await inspect(name);
      if ((res.code !== 0) === refused || i === 30) return res;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  before(async () => {
    root = await lowercaseTempDir("berth-vulns-e2e");
    const config = join(root, "berth.yaml");
    await writeFile(config, POLICIES);
    berth = await startBerth({ BERTH_CONFIG: config, BERTH_SBOMS: "true" });
    const image = await writeImageLayout(join(root, "app"), {
      ref: "1.0",
      layers: [{ files: { "etc/os-release": fixture("os-release-debian"), "var/lib/dpkg/status": fixture("dpkg-status") } }],
    });
    for (const name of ["prod/app:1.0", "lab/app:1.0"]) {
      await run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${image.dir}:1.0`, `docker://${berth.host}/${name}`], { timeoutMs: 90_000 });
    }
    await berth.berth.supply.sboms.settled();
  });

  after(async () => {
    await berth?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("pulls while no database is imported, refuses once an advisory at the threshold matches, honours allow, and lets the fixed version through", async () => {
    assert.equal((await inspect("prod/app:1.0")).code, 0);

    await importAdvisory("2.36-9+deb12u99", "vulnerable.zip");
    const refused = await eventually("prod/app:1.0", true);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /denied: vulnerabilities\.policies\[0\] \(prod\/\*\) refuses images with findings at or above high: 1 vulnerability \(DEBIAN-CVE-2023-4911 \(CVE-2023-4911\) high in glibc 2\.36-9\+deb12u14 \(libc6\), fixed in 2\.36-9\+deb12u99\); allow them in the policy or rebuild the image/,
      refused.stderr,
    );
    assert.equal((await inspect("lab/app:1.0")).code, 0, "allowed by its CVE alias");
    const scan = (await (await fetch(`${berth.url}/api/v1/scan/prod/app:1.0`)).json()) as { image: { vulnerabilities: { counts: { high: number }; findings: { id: string; package: string }[] } } };
    assert.ok(scan.image.vulnerabilities.findings.some((f) => f.id === "DEBIAN-CVE-2023-4911" && f.package === "libc6"));

    // The advisory corrected: fixed in the very version installed, so no longer affected.
    await importAdvisory("2.36-9+deb12u14", "fixed.zip");
    assert.equal((await eventually("prod/app:1.0", false)).code, 0);
  });
});
