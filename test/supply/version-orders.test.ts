import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { apk, dpkg, orderFor, pep440, semver, type VersionOrder } from "../../src/supply/vulns/versions/index.js";

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), "../../../test/fixtures/versions");

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function negate(n: number): number {
  return n === 0 ? 0 : -n;
}

/** Every adjacent pair of an ascending list compares below, and the reverse above. */
function assertAscending(order: VersionOrder, list: string[]): void {
  for (let i = 1; i < list.length; i++) {
    const [a, b] = [list[i - 1]!, list[i]!];
    assert.equal(sign(order.compare(a, b)), -1, `${order.name}: ${a} < ${b}`);
    assert.equal(sign(order.compare(b, a)), 1, `${order.name}: ${b} > ${a}`);
  }
  const shuffled = [...list].reverse().sort(() => 0).sort((x, y) => order.compare(x, y));
  assert.deepEqual(shuffled, list);
}

describe("dpkg version order", () => {
  it("agrees with every case of dpkg's own test table (scripts/t/Dpkg_Version.t)", () => {
    const lines = readFileSync(`${FIXTURES}/dpkg-version.data`, "utf8").trim().split("\n");
    assert.ok(lines.length >= 40);
    for (const line of lines) {
      const [a, b, want] = line.split(" ");
      assert.equal(sign(dpkg.compare(a!, b!)), Number(want), `${a} vs ${b}`);
      assert.equal(sign(dpkg.compare(b!, a!)), negate(Number(want)), `${b} vs ${a}`);
    }
  });

  it("puts the epoch first and a tilde before the release, as Debian security updates rely on", () => {
    assertAscending(dpkg, [
      "1.1.0l-1~deb9u5",
      "1.1.0l-1~deb9u6",
      "1.1.0l-1",
      "1.1.0l-1+deb9u1",
      "3.0.11-1~deb12u2",
      "3.0.11-1",
      "1:0.1-1",
      "1:8.9p1-3ubuntu0.7",
      "1:8.9p1-3ubuntu0.10",
      "2:1.0",
    ]);
  });

  it("accepts what Debian policy accepts and refuses the rest (dpkg's own invalid cases)", () => {
    for (const v of ["1.2.3-4", "1:2.3", "0", "2.2~rc-4", "1:8.9p1-3ubuntu0.10", "1.0-"]) assert.ok(dpkg.valid(v), v);
    for (const v of ["", "10a:5.2", "5.2@3-2", "foo5.2", "0:foo5.2"]) assert.ok(!dpkg.valid(v), v);
  });
});

describe("apk version order", () => {
  it("agrees with apk-tools' own test table (test/version.data), skipping the lines it marks invalid", () => {
    const lines = readFileSync(`${FIXTURES}/apk-version.data`, "utf8").trim().split("\n");
    let checked = 0;
    for (const line of lines) {
      const [a, op, b] = line.split(/\s+/);
      if (!apk.valid(a!) || !apk.valid(b!)) continue;
      const want = op === "<" ? -1 : op === ">" ? 1 : 0;
      assert.equal(sign(apk.compare(a!, b!)), want, line);
      assert.equal(sign(apk.compare(b!, a!)), negate(want), `reversed: ${line}`);
      checked++;
    }
    assert.ok(checked >= 150, `checked ${checked}`);
  });

  it("orders pre-release suffixes, release, post-release suffixes and revisions like apk", () => {
    assertAscending(apk, [
      "1.2.4_alpha1",
      "1.2.4_beta",
      "1.2.4_pre2",
      "1.2.4_rc1",
      "1.2.4",
      "1.2.4-r3",
      "1.2.4_git20230717-r5",
      "1.2.4_p1",
      "1.2.4a",
      "1.2.5",
    ]);
  });

  it("refuses what apk refuses", () => {
    for (const v of ["1.0bc", "23_foo", "1.0-x", "", "v1.0", "1.0_x"]) assert.ok(!apk.valid(v), v);
    for (const v of ["1.2.3-r0", "1.2.4_git20230717-r5", "0.1.0_alpha_pre2", "006"]) assert.ok(apk.valid(v), v);
  });
});

describe("PEP 440 version order", () => {
  it("sorts the PEP's own example list of suffixes", () => {
    assertAscending(pep440, [
      "1.dev0",
      "1.0.dev456",
      "1.0a1",
      "1.0a2.dev456",
      "1.0a12.dev456",
      "1.0a12",
      "1.0b1.dev456",
      "1.0b2",
      "1.0b2.post345.dev456",
      "1.0b2.post345",
      "1.0rc1.dev456",
      "1.0rc1",
      "1.0",
      "1.0+abc.5",
      "1.0+abc.7",
      "1.0+5",
      "1.0.post456.dev34",
      "1.0.post456",
      "1.0.15",
      "1.1.dev1",
      "1!0.1",
    ]);
  });

  it("treats the spellings PEP 440 normalises as the same version", () => {
    const same: [string, string][] = [
      ["1.0RC1", "1.0rc1"],
      ["1.0c1", "1.0rc1"],
      ["1.0-preview_2", "1.0rc2"],
      ["1.0alpha1", "1.0a1"],
      ["1.0.a", "1.0a0"],
      ["1.0-1", "1.0.post1"],
      ["1.0.post", "1.0.post0"],
      ["1.0-r4", "1.0.post4"],
      ["1.0-dev", "1.0.dev0"],
      ["v1.0", "1.0"],
      ["1.0.0.0", "1"],
      ["0!1.0", "1.0"],
      ["1.0+Ubuntu-1", "1.0+ubuntu.1"],
    ];
    for (const [a, b] of same) assert.equal(pep440.compare(a, b), 0, `${a} == ${b}`);
  });

  it("refuses what PEP 440 refuses", () => {
    for (const v of ["french toast", "1.0+", "1.0+_foo", "1.0++", "1.0-", "", "1..0"]) assert.ok(!pep440.valid(v), v);
  });
});

describe("SemVer order", () => {
  it("sorts the precedence example of SemVer 2.0 §11", () => {
    assertAscending(semver, [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "2.0.0",
      "2.1.0",
      "2.1.1",
      "10.0.0",
    ]);
  });

  it("ignores build metadata and a leading v; orders Go pseudo-versions by their timestamp", () => {
    assert.equal(semver.compare("1.0.0+20130313144700", "1.0.0"), 0);
    assert.equal(semver.compare("1.0.0-alpha+001", "1.0.0-alpha"), 0);
    assert.equal(semver.compare("v1.18.2", "1.18.2"), 0);
    assertAscending(semver, [
      "v0.0.0-20220408201424-a24fb2fb8a0f",
      "v0.0.0-20220412211240-33da011f77ad",
      "v0.1.0",
      "v1.18.0-0",
      "v1.18.0-rc.1",
      "v1.18.0",
      "v99999999999999999999.0.0",
    ]);
  });

  it("refuses versions SemVer refuses", () => {
    for (const v of ["1.2", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", "latest", ""]) assert.ok(!semver.valid(v), v);
  });
});

describe("orderFor", () => {
  it("maps each OSV ecosystem to its order, whatever the release suffix", () => {
    assert.equal(orderFor("Debian:12"), dpkg);
    assert.equal(orderFor("Ubuntu:22.04:LTS"), dpkg);
    assert.equal(orderFor("Ubuntu:Pro:20.04:LTS"), dpkg);
    assert.equal(orderFor("Alpine:v3.19"), apk);
    assert.equal(orderFor("PyPI"), pep440);
    assert.equal(orderFor("npm"), semver);
    assert.equal(orderFor("Go"), semver);
    assert.equal(orderFor("Maven"), undefined);
  });
});
