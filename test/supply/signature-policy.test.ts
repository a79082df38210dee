import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig, ConfigError } from "../../src/config/load.js";
import { silentLogger } from "../../src/logger.js";
import { RegistryError } from "../../src/oci/errors.js";
import { createBerth } from "../../src/server.js";
import type { StoredManifest } from "../../src/storage/metadata-store.js";
import { isGatedManifest } from "../../src/supply/gated.js";
import { createPullGate, type PullCheck } from "../../src/supply/pull-gate.js";
import { createPolicyResolver, loadSignaturePolicies } from "../../src/supply/signatures/policy.js";
import { createCosignKeyPair } from "../helpers/cosign-keys.js";
import { makeImage, makeIndex, MediaTypes } from "../helpers/fixtures.js";
import { cosignSign, cosignSignatureManifest, notationSignature, simpleSigningPayload } from "../helpers/signatures.js";

const json = (value: object) => Buffer.from(JSON.stringify(value));

describe("which manifests pull policies gate", () => {
  it("gates images with layers (OCI and Docker) and indexes", () => {
    const oci = makeImage();
    const docker = makeImage({ mediaType: "docker" });
    assert.equal(isGatedManifest(oci.manifestMediaType, oci.manifest), true);
    assert.equal(isGatedManifest(docker.manifestMediaType, docker.manifest), true);
    const index = makeIndex([{ mediaType: oci.manifestMediaType, digest: oci.manifestDigest, size: oci.manifest.length }]);
    assert.equal(isGatedManifest(index.mediaType, index.index), true);
    const list = makeIndex([], { mediaType: "docker" });
    assert.equal(isGatedManifest(list.mediaType, list.index), true);
  });

  it("leaves signatures, SBOMs and other artifacts pullable", async () => {
    const payload = simpleSigningPayload("sha256:" + "a".repeat(64));
    const { privateKey } = await import("node:crypto").then((c) => c.generateKeyPairSync("ec", { namedCurve: "P-256" }));
    const sig = cosignSignatureManifest([{ payload, signature: cosignSign(privateKey, payload) }]).artifact;
    assert.equal(isGatedManifest(sig.mediaType, sig.content), false, "a cosign .sig manifest has simple-signing layers only");
    const sbom = json({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: "application/vnd.cyclonedx+json",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: "sha256:" + "0".repeat(64), size: 2 },
      layers: [{ mediaType: "application/vnd.cyclonedx+json", digest: "sha256:" + "1".repeat(64), size: 10 }],
      subject: { mediaType: MediaTypes.ociManifest, digest: "sha256:" + "2".repeat(64), size: 10 },
    });
    assert.equal(isGatedManifest(MediaTypes.ociManifest, sbom), false);
    const withSubject = JSON.parse(makeImage().manifest.toString()) as Record<string, unknown>;
    withSubject.subject = { mediaType: MediaTypes.ociManifest, digest: "sha256:" + "2".repeat(64), size: 10 };
    assert.equal(isGatedManifest(MediaTypes.ociManifest, json(withSubject)), false, "an image-shaped referrer is an artifact of its subject");
    const indexWithSubject = json({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [], subject: withSubject.subject as object });
    assert.equal(isGatedManifest(MediaTypes.ociIndex, indexWithSubject), false);
    const helmLike = json({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: "application/vnd.cncf.helm.config.v1+json", digest: "sha256:" + "0".repeat(64), size: 2 },
      layers: [{ mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", digest: "sha256:" + "1".repeat(64), size: 10 }],
    });
    assert.equal(isGatedManifest(MediaTypes.ociManifest, helmLike), false, "no image layer: an artifact");
    assert.equal(isGatedManifest(MediaTypes.ociManifest, Buffer.from("not json")), false);
  });
});

describe("signature policies", () => {
  let dir: string;
  let keyPath: string;
  let certPath: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-sigpolicy-"));
    keyPath = (await createCosignKeyPair(join(dir, "keys"))).publicKeyPath;
    certPath = join(dir, "not-a-cert.pem");
    await writeFile(certPath, "hello\n");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const configWith = async (policies: object[]) => {
    const file = join(dir, `berth-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(file, JSON.stringify({ signatures: { policies } }));
    return loadConfig({ file, env: {} }).signatures;
  };

  it("resolves the first policy whose globs match, an `off` one included", async () => {
    const policies = await loadSignaturePolicies(
      await configWith([
        { repositories: ["prod/legacy"], mode: "off" },
        { name: "production", repositories: ["prod/*", "release/*"], mode: "enforce", cosignKeys: [keyPath] },
        { repositories: "*", mode: "report", cosignKeys: [keyPath] },
      ]),
    );
    const resolver = createPolicyResolver(policies);
    assert.equal(resolver.resolve("prod/app")?.name, "production");
    assert.equal(resolver.resolve("prod/team/app")?.name, "production", "`*` crosses slashes as in tagRules");
    assert.equal(resolver.resolve("release/x")?.label, "production (prod/*, release/*)");
    assert.equal(resolver.resolve("prod/legacy")?.mode, "off");
    assert.equal(resolver.active("prod/legacy"), undefined, "an off policy that matches first turns checks off");
    assert.equal(resolver.resolve("dev/app")?.name, "signatures.policies[2]");
    assert.equal(resolver.active("dev/app")?.mode, "report");
    assert.equal(createPolicyResolver(policies.slice(0, 2)).resolve("dev/app"), undefined);
    assert.equal(policies[1]!.trustedFiles, keyPath);
  });

  it("refuses to start on a missing or unusable key file, naming the file and the policy", async () => {
    const missing = join(dir, "absent.pub");
    await assert.rejects(
      loadSignaturePolicies(await configWith([{ repositories: ["prod/*"], mode: "enforce", cosignKeys: [missing] }])),
      (err: Error) => err instanceof ConfigError && err.message.includes(missing) && err.message.includes("signatures.policies[0] (prod/*)"),
    );
    await assert.rejects(
      loadSignaturePolicies(await configWith([{ repositories: ["x/*"], mode: "report", notationCertificates: [certPath] }])),
      (err: Error) => err instanceof ConfigError && err.message.includes(certPath) && err.message.includes("signatures.policies[0] (x/*)"),
    );
    const off = await loadSignaturePolicies(await configWith([{ repositories: ["prod/*"], mode: "off", cosignKeys: [missing] }]));
    assert.equal(off[0]!.mode, "off", "an off policy reads no file");
  });

  it("berth serve refuses a bad key file or secret rules file before it creates a registry", async () => {
    const data = join(dir, "never-created");
    const file = join(dir, "bad-key.yaml");
    await writeFile(file, `signatures:\n  policies:\n    - repositories: ["prod/*"]\n      mode: enforce\n      cosignKeys: [${join(dir, "absent.pub")}]\n`);
    await assert.rejects(createBerth(loadConfig({ file, env: { BERTH_DATA: data, BERTH_LISTEN: "127.0.0.1:0" } }), silentLogger), /absent\.pub/);
    const rules = join(dir, "rules.yaml");
    await writeFile(rules, "rules:\n  - id: broken\n    description: x\n    kind: content\n    pattern: \"(unclosed\"\n");
    await writeFile(file, `secrets:\n  rulesFile: ${rules}\n`);
    await assert.rejects(createBerth(loadConfig({ file, env: { BERTH_DATA: data, BERTH_LISTEN: "127.0.0.1:0" } }), silentLogger), /rules\[0\] \(broken\)/);
    assert.equal(existsSync(data), false, "no data directory was created");
  });

  it("fingerprints the trust, so other keys after a restart give other cache keys", async () => {
    const other = (await createCosignKeyPair(join(dir, "other"))).publicKeyPath;
    const [a] = await loadSignaturePolicies(await configWith([{ repositories: ["p/*"], mode: "enforce", cosignKeys: [keyPath] }]));
    const [b] = await loadSignaturePolicies(await configWith([{ repositories: ["p/*"], mode: "enforce", cosignKeys: [keyPath] }]));
    const [c] = await loadSignaturePolicies(await configWith([{ repositories: ["p/*"], mode: "enforce", cosignKeys: [other] }]));
    assert.equal(a!.fingerprint, b!.fingerprint);
    assert.notEqual(a!.fingerprint, c!.fingerprint);
  });

  it("notation signatures are recognised as artifacts, not gated", async () => {
    const { createTestPki } = await import("../helpers/signatures.js");
    const pki = await createTestPki(join(dir, "pki"));
    const leaf = await pki.issue("leaf");
    const sig = await notationSignature({ subject: ("sha256:" + "3".repeat(64)) as never, leaf, chain: [leaf, pki.root] });
    assert.equal(isGatedManifest(sig.artifact.mediaType, sig.artifact.content), false);
  });
});

describe("the pull gate", () => {
  const manifest: StoredManifest = { digest: ("sha256:" + "4".repeat(64)) as never, mediaType: MediaTypes.ociManifest, content: Buffer.from("{}"), createdAt: 0 };
  const check = (matches: (repo: string) => boolean, answer?: string): PullCheck & { asked: string[]; checked: number } => {
    const self = {
      asked: [] as string[],
      checked: 0,
      appliesTo(repo: string) {
        self.asked.push(repo);
        return matches(repo);
      },
      async check(_repo: string, _m: StoredManifest, headers: Record<string, string>) {
        self.checked++;
        headers["X-Check"] = "ran";
        return answer === undefined ? undefined : { policy: "p", message: answer };
      },
    };
    return self;
  };

  it("applies to a repository only when a check does, asking once per name", async () => {
    const c = check((r) => r.startsWith("prod/"));
    const gate = createPullGate([c]);
    assert.equal(gate.appliesTo("dev/app"), false);
    assert.equal(gate.appliesTo("dev/app"), false);
    assert.equal(gate.appliesTo("prod/app"), true);
    assert.deepEqual(c.asked, ["dev/app", "prod/app"]);
    assert.deepEqual(await gate.admit("prod/app", manifest), { "X-Check": "ran" });
  });

  it("refuses with 403 DENIED, the check's message and its headers", async () => {
    const gate = createPullGate([check(() => true), check(() => true, "policy p refuses it")]);
    await assert.rejects(gate.admit("prod/app", manifest), (err: Error) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, "DENIED");
      assert.equal(err.status, 403);
      assert.equal(err.message, "policy p refuses it");
      assert.equal(err.headers["X-Check"], "ran");
      return true;
    });
  });

  it("with no checks applies nowhere", () => {
    assert.equal(createPullGate([]).appliesTo("anything"), false);
  });
});
