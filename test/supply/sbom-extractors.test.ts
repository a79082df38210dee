import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createReadStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseApkInstalled } from "../../src/supply/sbom/apk.js";
import { apkPackages, debPackages } from "../../src/supply/sbom/distro-record.js";
import { isDpkgDatabase, parseDpkgStatus } from "../../src/supply/sbom/dpkg.js";
import { createGoBuildInfoScanner, goPackages } from "../../src/supply/sbom/go-buildinfo.js";
import { isInstalledPackageJson, isNpmLockfile, parseInstalledPackageJson, parseNpmLockfile } from "../../src/supply/sbom/npm.js";
import { parseOsRelease } from "../../src/supply/sbom/os-release.js";
import { isPythonMetadata, parsePythonMetadata } from "../../src/supply/sbom/python.js";

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/sbom/${name}`, import.meta.url));
const repoFile = (name: string) => readFileSync(new URL(`../../../${name}`, import.meta.url), "utf8");

describe("os-release", () => {
  it("names the OSV ecosystem of Debian, Ubuntu LTS and Alpine releases", () => {
    assert.deepEqual(parseOsRelease(fixture("os-release-debian").toString()), { id: "debian", versionId: "12", prettyName: "Debian GNU/Linux 12 (bookworm)", ecosystem: "Debian:12" });
    assert.equal(parseOsRelease(fixture("os-release-alpine").toString())?.ecosystem, "Alpine:v3.19");
    assert.equal(parseOsRelease('ID=ubuntu\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\n')?.ecosystem, "Ubuntu:22.04:LTS");
    assert.equal(parseOsRelease('ID=ubuntu\nVERSION_ID="23.10"\nVERSION="23.10 (Mantic Minotaur)"\n')?.ecosystem, "Ubuntu:23.10");
  });
});

describe("dpkg status", () => {
  const os = parseOsRelease(fixture("os-release-debian").toString());

  it("lists installed packages with their source package (named alone, or with its own version)", () => {
    const packages = debPackages(parseDpkgStatus(fixture("dpkg-status").toString()), os, "var/lib/dpkg/status");
    assert.equal(packages.length, 12);
    const libc = packages.find((p) => p.name === "libc6")!;
    assert.deepEqual(libc, {
      ecosystem: "Debian:12",
      name: "libc6",
      version: "2.36-9+deb12u14",
      source: { name: "glibc", version: "2.36-9+deb12u14" },
      purl: "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12",
      locations: ["var/lib/dpkg/status"],
    });
    assert.deepEqual(packages.find((p) => p.name === "bsdutils")!.source, { name: "util-linux", version: "2.38.1-5+deb12u3" });
    // A binNMU: the binary's version (5.2.15-2+b8) is not its source's.
    assert.deepEqual(packages.find((p) => p.name === "bash")!.source, { name: "bash", version: "5.2.15-2" });
    assert.deepEqual(packages.find((p) => p.name === "tzdata")!.source, { name: "tzdata", version: packages.find((p) => p.name === "tzdata")!.version });
    assert.equal(packages.find((p) => p.name === "tzdata")!.purl.includes("arch=all"), true);
  });

  it("leaves out packages that are removed or only half installed", () => {
    const text = fixture("dpkg-status").toString().replace(/Package: openssl\nStatus: install ok installed/, "Package: openssl\nStatus: deinstall ok config-files");
    const names = parseDpkgStatus(text).map((r) => r.name);
    assert.equal(names.includes("openssl"), false);
    assert.equal(names.length, 11);
  });

  it("reads this machine's whole database the way dpkg-query counts installed packages", { skip: !existsSync("/var/lib/dpkg/status") && "no dpkg here" }, () => {
    const installed = execFileSync("dpkg-query", ["-W", "-f", "${db:Status-Abbrev}${Package}:${Version}\n"], { encoding: "utf8" })
      .split("\n").filter((l) => l.startsWith("ii ")).map((l) => l.slice(3).trim()).sort();
    const parsed = parseDpkgStatus(readFileSync("/var/lib/dpkg/status", "utf8")).map((r) => `${r.name}:${r.version}`).sort();
    assert.deepEqual(parsed, installed);
  });

  it("knows the database paths, distroless status.d included", () => {
    assert.equal(isDpkgDatabase("var/lib/dpkg/status"), true);
    assert.equal(isDpkgDatabase("var/lib/dpkg/status.d/libc6"), true);
    assert.equal(isDpkgDatabase("var/lib/dpkg/status.d/libc6.md5sums"), false);
    assert.equal(isDpkgDatabase("var/lib/dpkg/status-old"), false);
  });
});

describe("apk installed database", () => {
  it("lists Alpine packages with their origin", () => {
    const os = parseOsRelease(fixture("os-release-alpine").toString());
    const packages = apkPackages(parseApkInstalled(fixture("apk-installed").toString()), os, "lib/apk/db/installed");
    assert.deepEqual(packages.map((p) => `${p.name}@${p.version}<${p.source?.name}`), ["bash@5.2.21-r0<bash", "busybox-binsh@1.36.1-r15<busybox", "musl@1.2.4_git20230717-r4<musl", "readline@8.2.1-r2<readline"]);
    assert.equal(packages[1]!.ecosystem, "Alpine:v3.19");
    assert.equal(packages[1]!.purl, "pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=3.19.1");
  });
});

describe("npm", () => {
  it("reads a lockfileVersion 3 lockfile (this repository's own)", () => {
    const packages = parseNpmLockfile(repoFile("package-lock.json"), "app/package-lock.json");
    const lock = JSON.parse(repoFile("package-lock.json")) as { packages: Record<string, { version?: string; link?: boolean }> };
    assert.equal(packages.length, Object.entries(lock.packages).filter(([k, v]) => k !== "" && v.version && !v.link).length);
    const tar = packages.find((p) => p.name === "tar-stream" && p.version === "3.1.7")!;
    assert.equal(tar.purl, "pkg:npm/tar-stream@3.1.7");
    assert.equal(packages.find((p) => p.name === "@cyclonedx/cyclonedx-library")!.purl, "pkg:npm/%40cyclonedx/cyclonedx-library@10.3.0");
    assert.equal(packages.some((p) => p.name === "berth-registry"), false, "the root project is not a dependency");
  });

  it("reads lockfileVersion 1 trees, nested and aliased", () => {
    const nested = parseNpmLockfile(fixture("npm-lock-v1-nested.json").toString(), "package-lock.json").map((p) => `${p.name}@${p.version}`);
    assert.deepEqual(nested.sort(), ["dev-nested@1.0.0", "dev-parent@1.0.0", "duplicate@1.0.0", "duplicate@1.0.0", "middle@1.0.0", "parent@1.0.0", "shared@0.5.0", "shared@1.0.0", "shared@2.0.0"]);
    const aliased = parseNpmLockfile(fixture("npm-lock-v1-alias.json").toString(), "package-lock.json").map((p) => p.purl);
    assert.deepEqual(aliased, ["pkg:npm/case@1.6.2", "pkg:npm/case@1.6.3", "pkg:npm/%40bundled-es-modules/chai@4.2.2"]);
  });

  it("reads installed package.json files, and only those", () => {
    const commander = parseInstalledPackageJson(repoFile("node_modules/commander/package.json"), "node_modules/commander/package.json");
    assert.deepEqual(commander.map((p) => p.purl), ["pkg:npm/commander@14.0.3"]);
    assert.equal(isInstalledPackageJson("app/node_modules/@aws-sdk/client-s3/package.json"), true);
    assert.equal(isInstalledPackageJson("app/node_modules/a/node_modules/b/package.json"), true);
    assert.equal(isInstalledPackageJson("app/package.json"), false);
    assert.equal(isInstalledPackageJson("app/node_modules/zod/lib/package.json"), false);
    assert.equal(isNpmLockfile("app/package-lock.json"), true);
    assert.equal(isNpmLockfile("app/node_modules/.package-lock.json"), false);
    assert.equal(isNpmLockfile("app/node_modules/x/package-lock.json"), false);
  });
});

describe("Python", () => {
  it("reads Name and Version of a dist-info METADATA, the purl name PEP 503-normalised", () => {
    assert.deepEqual(parsePythonMetadata(fixture("pyyaml-METADATA").toString(), "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"), [
      { ecosystem: "PyPI", name: "PyYAML", version: "6.0", purl: "pkg:pypi/pyyaml@6.0", locations: ["usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"] },
    ]);
    assert.equal(isPythonMetadata("usr/lib/python3.11/site-packages/foo.egg-info/PKG-INFO"), true);
    assert.equal(isPythonMetadata("usr/lib/python3.11/site-packages/foo.dist-info/RECORD"), false);
  });

  it("agrees with the directory names of every dist-info on this machine", { skip: !existsSync("/usr/lib/python3/dist-packages") && "no system Python packages" }, () => {
    const dirs = readdirSync("/usr/lib/python3/dist-packages").filter((d) => d.endsWith(".dist-info"));
    assert.ok(dirs.length > 0);
    for (const dir of dirs) {
      const [p] = parsePythonMetadata(readFileSync(`/usr/lib/python3/dist-packages/${dir}/METADATA`, "utf8"), dir);
      assert.ok(p, dir);
      // The wheel directory is `{name with - as _}-{version}.dist-info`.
      assert.equal(`${p.name.replace(/-/g, "_")}-${p.version}.dist-info`.toLowerCase(), dir.toLowerCase(), dir);
    }
  });
});

describe("Go build info", () => {
  it("finds skopeo's build info streaming through the 16 MB binary", { skip: !existsSync("/usr/bin/skopeo") && "no /usr/bin/skopeo" }, async () => {
    const scanner = createGoBuildInfoScanner();
    for await (const chunk of createReadStream("/usr/bin/skopeo", { highWaterMark: 65_521 })) scanner.push(chunk as Buffer);
    const info = scanner.result()!;
    assert.match(info.goVersion, /^go1\.\d+/);
    assert.equal(info.path, "github.com/containers/skopeo/cmd/skopeo");
    // Debian builds skopeo in GOPATH mode: no module list, but the toolchain is still a package.
    assert.deepEqual(goPackages(info, "usr/bin/skopeo").map((p) => p.name), ["stdlib"]);
  });

  it("decodes kubectl's module list whatever the chunk boundaries", () => {
    const bytes = Buffer.concat([Buffer.alloc(4096, 0x90), fixture("kubectl-buildinfo.bin"), Buffer.alloc(100)]);
    for (const size of [1, 7, 13, 14, 4096, 1 << 20]) {
      const scanner = createGoBuildInfoScanner();
      for (let i = 0; i < bytes.length && !scanner.done; i += size) scanner.push(bytes.subarray(i, i + size));
      const info = scanner.result()!;
      assert.equal(info.goVersion, "go1.23.8", `chunk ${size}`);
      const packages = goPackages(info, "usr/bin/kubectl");
      assert.deepEqual(packages[0], { ecosystem: "Go", name: "k8s.io/kubernetes", version: "(devel)", purl: "pkg:golang/k8s.io/kubernetes", locations: ["usr/bin/kubectl"] });
      assert.ok(packages.some((p) => p.name === "github.com/MakeNowJust/heredoc" && p.version === "v1.0.0" && p.purl === "pkg:golang/github.com/MakeNowJust/heredoc@v1.0.0"), `chunk ${size}`);
      assert.equal(packages.at(-1)!.name, "stdlib");
      assert.equal(packages.at(-1)!.version, "v1.23.8");
      assert.equal(packages.length, 82 + 2);
    }
  });

  it("ignores the magic off a 16-byte boundary", () => {
    const scanner = createGoBuildInfoScanner();
    scanner.push(Buffer.concat([Buffer.alloc(8), fixture("kubectl-buildinfo.bin")]));
    assert.equal(scanner.result(), undefined);
  });
});
