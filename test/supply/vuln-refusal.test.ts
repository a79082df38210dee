import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Finding } from "../../src/supply/vulns/match.js";
import { refusal, type VulnerabilityPolicy } from "../../src/supply/vulns/pull-policy.js";

const policy: VulnerabilityPolicy = { name: "production", repositories: ["prod/*"], refuseAt: "high", allow: [] };
const glibc = (pkg: string): Finding => ({
  id: "DSA-5514-1",
  aliases: ["CVE-2023-4911"],
  summary: "glibc - security update",
  severity: "high",
  package: pkg,
  installed: "2.36-9+deb12u1",
  source: { name: "glibc", version: "2.36-9+deb12u1" },
  fixed: "2.36-9+deb12u3",
  ecosystem: "Debian:12",
});

describe("vulnerability refusal message", () => {
  it("counts one advisory in one source package once, naming the source, however many binaries it built", () => {
    const refused = refusal(policy, [glibc("libc6"), glibc("libc-bin"), glibc("locales")]);
    assert.equal(
      refused?.message,
      "production (prod/*) refuses images with findings at or above high: 1 vulnerability " +
        "(DSA-5514-1 (CVE-2023-4911) high in glibc 2.36-9+deb12u1 (3 packages), fixed in 2.36-9+deb12u3); allow them in the policy or rebuild the image",
    );
  });

  it("names the three worst and counts the rest", () => {
    const many = ["a", "b", "c", "d", "e"].map((n, i) => ({ ...glibc(n), id: `DSA-${i}`, source: { name: `src-${n}`, version: "1" } }));
    assert.match(refusal(policy, many)!.message, /5 vulnerabilities \(DSA-0 .*; DSA-1 .*; DSA-2 [^;]*; 2 more\)/);
  });

  it("lets through what the allow-list names by alias, and what is below the threshold", () => {
    assert.equal(refusal({ ...policy, allow: ["CVE-2023-4911"] }, [glibc("libc6")]), undefined);
    assert.equal(refusal(policy, [{ ...glibc("libc6"), severity: "medium" }]), undefined);
  });
});
