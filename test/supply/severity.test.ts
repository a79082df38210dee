import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseOsvRecord } from "../../src/supply/vulns/osv.js";
import { atOrAbove, bandOf, cvss2BaseScore, cvssBaseScore, severityOf, severityRank, type Severity } from "../../src/supply/vulns/severity.js";

describe("CVSS base scores", () => {
  it("match FIRST's calculator for v3.1, v3.0 and v4.0 vectors", () => {
    const cases: [string, number][] = [
      ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
      ["CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9],
      ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5],
      ["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1],
      ["CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1],
      ["CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8],
      ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3],
    ];
    for (const [vector, score] of cases) assert.equal(cvssBaseScore(vector), score, vector);
  });

  it("give nothing for malformed or incomplete vectors", () => {
    for (const v of ["garbage", "CVSS:3.1/AV:N", "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV:N/AC:L/Au:N/C:P/I:P/A:P"]) {
      assert.equal(cvssBaseScore(v), undefined, v);
    }
  });

  it("band as NVD does", () => {
    assert.deepEqual([0.1, 3.9, 4.0, 6.9, 7.0, 8.9, 9.0, 10].map(bandOf), ["low", "low", "medium", "medium", "high", "high", "critical", "critical"]);
  });
});

describe("severityOf", () => {
  const rec = (extra: object) => parseOsvRecord({ id: "T-1", modified: "2024-01-01T00:00:00Z", ...extra });

  it("prefers a CVSS v3 score, then v4, then the advisory's words", () => {
    assert.deepEqual(
      severityOf(rec({ severity: [{ type: "CVSS_V4", score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" }, { type: "CVSS_V3", score: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N" }] })),
      { severity: "medium", score: 5.5 },
    );
    assert.deepEqual(severityOf(rec({ severity: [{ type: "CVSS_V4", score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" }] })), { severity: "critical", score: 9.3 });
    assert.deepEqual(severityOf(rec({ database_specific: { severity: "MODERATE" } })), { severity: "medium" });
    assert.deepEqual(severityOf(rec({ severity: [{ type: "Ubuntu", score: "negligible" }] })), { severity: "low" });
    assert.deepEqual(severityOf(rec({ severity: [{ type: "CVSS_V3", score: "broken" }], database_specific: { severity: "CRITICAL" } })), { severity: "critical" });
  });

  it("reads the matched affected entry's own words", () => {
    const r = rec({ affected: [{ package: { ecosystem: "Ubuntu:22.04:LTS", name: "x" }, ecosystem_specific: { ubuntu_priority: "high" } }] });
    assert.deepEqual(severityOf(r, r.affected[0]), { severity: "high" });
    const d = rec({ affected: [{ package: { ecosystem: "npm", name: "x" }, database_specific: { severity: "LOW" } }] });
    assert.deepEqual(severityOf(d, d.affected[0]), { severity: "low" });
    assert.deepEqual(severityOf(rec({})), { severity: "unknown" });
  });
});

describe("severityRank and atOrAbove", () => {
  it("rank critical > high > medium > low > unknown and compare against a threshold", () => {
    const all: Severity[] = ["unknown", "low", "medium", "high", "critical"];
    assert.deepEqual([...all].reverse().sort((a, b) => severityRank(a) - severityRank(b)), all);
    assert.ok(atOrAbove("critical", "high"));
    assert.ok(atOrAbove("high", "high"));
    assert.ok(!atOrAbove("medium", "high"));
    assert.ok(!atOrAbove("unknown", "low"));
    assert.ok(!atOrAbove("critical", "none"));
  });
});

describe("severity from CVSS v2 and Debian urgencies", () => {
  const record = (extra: object) =>
    parseOsvRecord({ id: "DEBIAN-CVE-2021-3999", modified: "2024-01-01T00:00:00Z", affected: [{ package: { ecosystem: "Debian:12", name: "glibc" }, ...extra }] });

  it("rates a CVSS v2 vector by NVD's v2 bands (no critical)", () => {
    assert.equal(cvss2BaseScore("AV:N/AC:L/Au:N/C:C/I:C/A:C"), 10);
    assert.equal(cvss2BaseScore("AV:N/AC:M/Au:N/C:P/I:N/A:N"), 4.3);
    assert.equal(cvss2BaseScore("not a vector"), undefined);
    const r = parseOsvRecord({ id: "X-1", modified: "2024-01-01T00:00:00Z", severity: [{ type: "CVSS_V2", score: "AV:N/AC:L/Au:N/C:C/I:C/A:C" }] });
    assert.deepEqual(severityOf(r), { severity: "high", score: 10 });
  });

  it("reads Debian's urgency, settled or not, and leaves 'not yet assigned' unknown", () => {
    const rated = (urgency: string) => severityOf(record({ ecosystem_specific: { urgency } }), record({ ecosystem_specific: { urgency } }).affected[0]).severity;
    assert.equal(rated("high"), "high");
    assert.equal(rated("medium**"), "medium");
    assert.equal(rated("unimportant"), "low");
    assert.equal(rated("not yet assigned"), "unknown");
  });
});
