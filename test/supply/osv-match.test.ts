import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { matchPackage, type MatchablePackage } from "../../src/supply/vulns/match.js";
import { OsvParseError, parseOsvRecord, type OsvRecord } from "../../src/supply/vulns/osv.js";

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), "../../../test/fixtures/osv");

function record(path: string): OsvRecord {
  return parseOsvRecord(readFileSync(`${FIXTURES}/${path}`, "utf8"));
}

function deb(ecosystem: string, name: string, version: string, source?: [string, string]): MatchablePackage {
  return { ecosystem, name, version, ...(source ? { source: { name: source[0], version: source[1] } } : {}) };
}

describe("Debian advisories (DLA-3008-1, openssl in Debian:9)", () => {
  const dla = record("Debian/DLA-3008-1.json");

  it("match the binary libssl through its source package, naming the fix and the CVE", () => {
    const f = matchPackage(dla, deb("Debian:9", "libssl1.1", "1.1.0l-1~deb9u5", ["openssl", "1.1.0l-1~deb9u5"]));
    assert.ok(f);
    assert.equal(f.id, "DLA-3008-1");
    assert.equal(f.fixed, "1.1.0l-1~deb9u6");
    assert.equal(f.package, "libssl1.1");
    assert.equal(f.installed, "1.1.0l-1~deb9u5");
    assert.deepEqual(f.source, { name: "openssl", version: "1.1.0l-1~deb9u5" });
    assert.deepEqual(f.aliases, ["CVE-2022-1292", "DEBIAN-CVE-2022-1292"]);
    assert.equal(f.summary, "openssl - security update");
    assert.equal(f.severity, "unknown");
  });

  it("do not match the fixed version, nor a later one, and the tilde decides", () => {
    assert.equal(matchPackage(dla, deb("Debian:9", "openssl", "1.1.0l-1~deb9u6")), undefined);
    assert.equal(matchPackage(dla, deb("Debian:9", "openssl", "1.1.0l-1")), undefined, "1.1.0l-1 sorts after ~deb9u6");
    assert.ok(matchPackage(dla, deb("Debian:9", "openssl", "1.1.0k-1~deb9u1")));
  });

  it("match only the release they are for, and not the binary name alone", () => {
    assert.equal(matchPackage(dla, deb("Debian:10", "openssl", "1.1.0l-1~deb9u5")), undefined);
    assert.equal(matchPackage(dla, deb("Debian:9", "libssl1.1", "1.1.0l-1~deb9u5")), undefined);
  });

  it("with no release in the OSV ecosystem, match every release", () => {
    const anyRelease: OsvRecord = {
      ...dla,
      affected: dla.affected.map((a) => ({ ...a, package: { ...a.package!, ecosystem: "Debian" } })),
    };
    assert.ok(matchPackage(anyRelease, deb("Debian:12", "openssl", "1.1.0l-1~deb9u5")));
  });

  it("compare the binary version when no source is known", () => {
    assert.ok(matchPackage(dla, deb("Debian:9", "openssl", "1.1.0f-3+deb9u2")));
  });
});

describe("Ubuntu advisories (UBUNTU-CVE-2024-6387, openssh with an epoch)", () => {
  const usn = record("Ubuntu/UBUNTU-CVE-2024-6387.json");

  it("match openssh-server of jammy below the fix and name the CVE the id carries", () => {
    const f = matchPackage(usn, deb("Ubuntu:22.04:LTS", "openssh-server", "1:8.9p1-3ubuntu0.7", ["openssh", "1:8.9p1-3ubuntu0.7"]));
    assert.ok(f);
    assert.equal(f.fixed, "1:8.9p1-3ubuntu0.10");
    assert.deepEqual(f.aliases, ["CVE-2024-6387"]);
    assert.equal(f.severity, "high");
    assert.equal(f.score, 8.1);
  });

  it("respect the epoch: 1:8.9p1-3ubuntu0.10 is fixed, a version without the epoch is older than any", () => {
    assert.equal(matchPackage(usn, deb("Ubuntu:22.04:LTS", "openssh", "1:8.9p1-3ubuntu0.10")), undefined);
    assert.equal(matchPackage(usn, deb("Ubuntu:22.04:LTS", "openssh", "1:8.9p1-3ubuntu0.11")), undefined);
    assert.ok(matchPackage(usn, deb("Ubuntu:22.04:LTS", "openssh", "9.9p1-1")), "no epoch = epoch 0 < 1:…");
  });

  it("use each release's own fix", () => {
    const noble = matchPackage(usn, deb("Ubuntu:24.04:LTS", "openssh", "1:9.6p1-3ubuntu13"));
    assert.equal(noble?.fixed, "1:9.6p1-3ubuntu13.3");
    assert.equal(matchPackage(usn, deb("Ubuntu:20.04:LTS", "openssh", "1:8.2p1-4ubuntu0.1")), undefined);
  });
});

describe("Alpine advisories (ALPINE-CVE-2025-26519, musl)", () => {
  const alpine = record("Alpine/ALPINE-CVE-2025-26519.json");

  it("order the _git post-release suffix and revisions of the v3.19 fix", () => {
    const f = matchPackage(alpine, deb("Alpine:v3.19", "musl", "1.2.4_git20230717-r4", ["musl", "1.2.4_git20230717-r4"]));
    assert.equal(f?.fixed, "1.2.4_git20230717-r5");
    assert.equal(f?.severity, "high");
    assert.equal(f?.score, 7.0);
    assert.deepEqual(f?.aliases, ["CVE-2025-26519"]);
    assert.equal(matchPackage(alpine, deb("Alpine:v3.19", "musl", "1.2.4_git20230717-r5")), undefined);
    assert.ok(matchPackage(alpine, deb("Alpine:v3.19", "musl", "1.2.4-r3")), "_git is after the release");
  });

  it("match the binary musl-utils through its origin, and respect `introduced`", () => {
    assert.equal(matchPackage(alpine, deb("Alpine:v3.20", "musl-utils", "1.2.5-r0", ["musl", "1.2.5-r0"]))?.fixed, "1.2.5-r1");
    assert.equal(matchPackage(alpine, deb("Alpine:v3.20", "musl", "0.9.12-r0")), undefined);
  });
});

describe("Go advisories (GO-2022-0493)", () => {
  const go = record("Go/GO-2022-0493.json");

  it("match the stdlib in both vulnerable release lines, as build info spells the version", () => {
    assert.equal(matchPackage(go, { ecosystem: "Go", name: "stdlib", version: "go1.17.9" })?.fixed, "1.17.10");
    assert.equal(matchPackage(go, { ecosystem: "Go", name: "stdlib", version: "go1.18.1" })?.fixed, "1.18.2");
    assert.ok(matchPackage(go, { ecosystem: "Go", name: "stdlib", version: "go1.18rc1" }), "1.18.0-rc.1 is after 1.18.0-0");
    assert.equal(matchPackage(go, { ecosystem: "Go", name: "stdlib", version: "go1.17.10" }), undefined);
    assert.equal(matchPackage(go, { ecosystem: "Go", name: "stdlib", version: "go1.18" })?.fixed, "1.18.2");
    assert.equal(matchPackage(go, { ecosystem: "Go", name: "stdlib", version: "go1.18.2" }), undefined);
  });

  it("match a module by its exact path and pseudo-version", () => {
    const sys = (version: string) => matchPackage(go, { ecosystem: "Go", name: "golang.org/x/sys", version });
    const f = sys("v0.0.0-20220408201424-a24fb2fb8a0f");
    assert.equal(f?.fixed, "0.0.0-20220412211240-33da011f77ad");
    assert.deepEqual(f?.aliases, ["CVE-2022-29526", "BIT-golang-2022-29526", "GHSA-p782-xgp4-8hr8"]);
    assert.equal(f?.severity, "unknown");
    assert.equal(sys("v0.0.0-20220412211240-33da011f77ad"), undefined);
    assert.equal(sys("v0.1.0"), undefined);
    assert.equal(matchPackage(go, { ecosystem: "Go", name: "golang.org/x/Sys", version: "v0.0.1" }), undefined);
  });
});

describe("npm advisories", () => {
  it("GHSA-whgm-jr23-g3j9: SEMVER range, fixed exclusive, CVSS 3.1 → high 7.5", () => {
    const ghsa = record("npm/GHSA-whgm-jr23-g3j9.json");
    const f = matchPackage(ghsa, { ecosystem: "npm", name: "ansi-html", version: "0.0.7" });
    assert.equal(f?.fixed, "0.0.8");
    assert.equal(f?.severity, "high");
    assert.equal(f?.score, 7.5);
    assert.equal(matchPackage(ghsa, { ecosystem: "npm", name: "ansi-html", version: "0.0.8" }), undefined);
    assert.equal(matchPackage(ghsa, { ecosystem: "npm", name: "ansi-html-community", version: "0.0.7" }), undefined);
  });

  it("GHSA-p8p7-x288-28g6: last_affected is inclusive and no fix is claimed", () => {
    const ghsa = record("npm/GHSA-p8p7-x288-28g6.json");
    const f = matchPackage(ghsa, { ecosystem: "npm", name: "request", version: "2.88.2" });
    assert.ok(f);
    assert.equal(f.fixed, undefined);
    assert.equal(f.severity, "medium");
    assert.equal(f.score, 6.1);
    assert.equal(matchPackage(ghsa, { ecosystem: "npm", name: "request", version: "2.88.3" }), undefined);
    assert.ok(matchPackage(ghsa, { ecosystem: "npm", name: "@cypress/request", version: "2.88.11" }));
    assert.equal(matchPackage(ghsa, { ecosystem: "npm", name: "@cypress/request", version: "3.0.0" }), undefined);
  });
});

describe("PyPI advisories", () => {
  const django = record("PyPI/PYSEC-2021-98.json");

  it("PYSEC-2021-98: three windows, each with its own fix; PEP 503 names", () => {
    assert.equal(matchPackage(django, { ecosystem: "PyPI", name: "Django", version: "2.2.23" })?.fixed, "2.2.24");
    assert.equal(matchPackage(django, { ecosystem: "PyPI", name: "django", version: "3.0.5" })?.fixed, "3.1.12");
    assert.equal(matchPackage(django, { ecosystem: "PyPI", name: "django", version: "3.2.3" })?.fixed, "3.2.4");
    assert.equal(matchPackage(django, { ecosystem: "PyPI", name: "django", version: "3.2.4" }), undefined);
    assert.equal(matchPackage(django, { ecosystem: "PyPI", name: "django", version: "2.2.24" }), undefined);
  });

  it("an explicit versions[] entry affects even outside the ranges, in PEP 440 spelling", () => {
    const onlyList: OsvRecord = { ...django, affected: django.affected.map((a) => ({ ...a, ranges: [] })) };
    assert.ok(matchPackage(onlyList, { ecosystem: "PyPI", name: "django", version: "1.10RC1" }), "1.10rc1 is listed");
    assert.equal(matchPackage(onlyList, { ecosystem: "PyPI", name: "django", version: "2.1.6" }), undefined, "2.1.6 is not listed");
  });

  it("PYSEC-2023-62: the GIT range is ignored, the ECOSYSTEM one decides", () => {
    const flask = record("PyPI/PYSEC-2023-62.json");
    assert.equal(matchPackage(flask, { ecosystem: "PyPI", name: "Flask", version: "2.3.1" })?.fixed, "2.3.2");
    assert.equal(matchPackage(flask, { ecosystem: "PyPI", name: "flask", version: "2.2.5" }), undefined);
    assert.equal(matchPackage(flask, { ecosystem: "PyPI", name: "flask", version: "2.3.2" }), undefined);
    assert.deepEqual(matchPackage(flask, { ecosystem: "PyPI", name: "flask", version: "2.0.0rc2" })?.aliases, [
      "CVE-2023-30861",
      "GHSA-m2qf-hxjv-5gpq",
    ]);
  });
});

describe("OSV evaluation rules", () => {
  const base = record("npm/GHSA-whgm-jr23-g3j9.json");
  const withEvents = (events: object[], type = "SEMVER"): OsvRecord =>
    parseOsvRecord({ ...JSON.parse(JSON.stringify(base)), affected: [{ package: { ecosystem: "npm", name: "x" }, ranges: [{ type, events }] }] });
  const at = (r: OsvRecord, version: string) => matchPackage(r, { ecosystem: "npm", name: "x", version });

  it("sorts events by version before evaluating them", () => {
    const r = withEvents([{ fixed: "2.0.0" }, { introduced: "1.5.0" }, { fixed: "1.2.0" }, { introduced: "0" }]);
    assert.equal(at(r, "1.1.0")?.fixed, "1.2.0");
    assert.equal(at(r, "1.3.0"), undefined);
    assert.equal(at(r, "1.5.0")?.fixed, "2.0.0");
    assert.equal(at(r, "2.0.0"), undefined);
  });

  it("an open introduced affects everything after it; limit bounds a range exclusively", () => {
    assert.ok(at(withEvents([{ introduced: "1.0.0" }]), "99.0.0"));
    assert.equal(at(withEvents([{ introduced: "1.0.0" }]), "0.9.0"), undefined);
    const limited = withEvents([{ introduced: "0" }, { limit: "3.0.0" }]);
    assert.ok(at(limited, "2.9.9"));
    assert.equal(at(limited, "3.0.0"), undefined);
  });

  it("withdrawn records and versions the order refuses match nothing", () => {
    const withdrawn = { ...withEvents([{ introduced: "0" }]), withdrawn: "2024-01-01T00:00:00Z" };
    assert.equal(at(withdrawn, "1.0.0"), undefined);
    assert.equal(at(withEvents([{ introduced: "0" }]), "not-a-version"), undefined);
  });
});

describe("parseOsvRecord", () => {
  it("reads every fixture and keeps what matching needs", () => {
    const r = record("Ubuntu/UBUNTU-CVE-2024-6387.json");
    assert.equal(r.affected.length, 2);
    assert.equal(r.affected[0]?.ranges[0]?.events.length, 2);
    assert.equal(r.severity[0]?.type, "CVSS_V3");
    assert.deepEqual(r.related, ["CVE-2024-6387", "USN-6859-1"]);
  });

  it("ignores unknown fields", () => {
    const r = parseOsvRecord({ id: "X-1", modified: "2024-01-01T00:00:00Z", future_field: { a: 1 }, affected: [] });
    assert.equal(r.id, "X-1");
    assert.deepEqual(r.aliases, []);
  });

  it("refuses garbage with a message naming the record and the field", () => {
    const cases: [unknown, RegExp][] = [
      ["{not json", /not JSON/],
      [[1, 2], /must be a JSON object/],
      [{ modified: "x" }, /id must be a non-empty string/],
      [{ id: "X-2", modified: "x", aliases: "CVE-1" }, /X-2: aliases must be an array/],
      [{ id: "X-3", modified: "x", affected: [{ package: { name: "a" } }] }, /X-3: affected\[0\]\.package\.ecosystem must be a non-empty string/],
      [
        { id: "X-4", modified: "x", affected: [{ package: { name: "a", ecosystem: "npm" }, ranges: [{ type: "SEMVER", events: [{ introduced: "0", fixed: "1" }] }] }] },
        /X-4: affected\[0\]\.ranges\[0\]\.events\[0\] must hold exactly one of introduced, fixed, last_affected, limit/,
      ],
      [{ id: "X-5", modified: "x", affected: [{ ranges: [{ type: "SEMVER", events: [] }] }] }, /X-5: affected\[0\]\.ranges\[0\]\.events must hold at least one event/],
      [{ id: "X-6", modified: "x", severity: [{ type: "CVSS_V3", score: 9.8 }] }, /X-6: severity\[0\]\.score must be a non-empty string/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => parseOsvRecord(input), (err: unknown) => err instanceof OsvParseError && message.test(err.message), String(message));
    }
  });
});
