import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import { packagesFromCycloneDx, toCycloneDx } from "../../src/supply/sbom/cyclonedx.js";
import { createLayerScanner } from "../../src/supply/sbom/scan-image.js";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/sbom/${name}`, import.meta.url));
const DIGEST = "sha256:0b3dbd0ae9a3b2b3e8d4c1b1b6e1f0f4a7c0d8c5c5e3e2e1a0f9e8d7c6b5a4f3";

async function imageContents() {
  const p = pack();
  p.entry({ name: "etc/os-release" }, fixture("os-release-debian"));
  p.entry({ name: "var/lib/dpkg/status" }, fixture("dpkg-status"));
  p.entry({ name: "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA" }, fixture("pyyaml-METADATA"));
  p.entry({ name: "app/package-lock.json" }, fixture("npm-lock-v1-alias.json"));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  const scanner = createLayerScanner();
  await scanner.addLayer(Readable.from([gzipSync(Buffer.concat(chunks))]));
  return scanner.finish();
}

describe("CycloneDX", () => {
  it("writes a CycloneDX 1.6 document the official JSON schema accepts", async () => {
    const { packages, os } = await imageContents();
    const json = await toCycloneDx(packages, { imageDigest: DIGEST, repository: "team/app", os, tool: { name: "berth", version: "0.1.0" } });
    const errors = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(json);
    assert.equal(errors, null, JSON.stringify(errors));
    const doc = JSON.parse(json) as { bomFormat: string; specVersion: string; serialNumber: string; metadata: { component: { type: string; name: string; version: string } }; components: { type: string; name: string }[] };
    assert.equal(doc.bomFormat, "CycloneDX");
    assert.equal(doc.specVersion, "1.6");
    assert.match(doc.serialNumber, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.deepEqual(doc.metadata.component, { ...doc.metadata.component, type: "container", name: "team/app", version: DIGEST });
    assert.deepEqual(doc.components.filter((c) => c.type === "operating-system").map((c) => c.name), ["debian"]);
    assert.equal(doc.components.filter((c) => c.type === "library").length, packages.length);
  });

  it("turns back into the same packages and OS", async () => {
    const { packages, os } = await imageContents();
    const back = packagesFromCycloneDx(await toCycloneDx(packages, { imageDigest: DIGEST, repository: "team/app", os, tool: { name: "berth", version: "0.1.0" } }));
    const key = (p: { purl: string; ecosystem: string }) => `${p.ecosystem} ${p.purl}`;
    assert.deepEqual([...back.packages].sort((a, b) => key(a).localeCompare(key(b))), [...packages].sort((a, b) => key(a).localeCompare(key(b))));
    assert.deepEqual(back.os, os);
    assert.deepEqual(back.packages.find((p) => p.name === "libc6")?.source, { name: "glibc", version: "2.36-9+deb12u14" });
  });

  it("reads packages from SBOMs other tools wrote, by their purls", () => {
    const foreign = {
      bomFormat: "CycloneDX",
      specVersion: "1.5",
      components: [
        { type: "library", name: "openssl", version: "3.0.11-1~deb12u2", purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12.4" },
        { type: "library", name: "musl", version: "1.2.4-r2", purl: "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.19.1" },
        { type: "library", name: "requests", version: "2.31.0", purl: "pkg:pypi/requests@2.31.0" },
        { type: "file", name: "/etc/passwd" },
      ],
    };
    assert.deepEqual(packagesFromCycloneDx(foreign).packages.map((p) => `${p.ecosystem} ${p.name}`), ["Debian:12 openssl", "Alpine:v3.19 musl", "PyPI requests"]);
    assert.throws(() => packagesFromCycloneDx({ spdxVersion: "SPDX-2.3" }), /not a CycloneDX/);
  });
});
