// Secret scanning seen by a real client: skopeo pushes images carrying a credentials file or a
// token in the config's Env to a Berth with `secrets.policies`; `block` refuses with a message
// naming the file (or field) and the rule, `warn` stores the image and records a secret.found event.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { auditEntry } from "../../src/auth/audit-log.js";
import { parseDigest } from "../../src/oci/digest.js";
import type { DomainEvent } from "../../src/registry/events.js";
import { SECRETS_KIND } from "../../src/supply/secrets/blob-scans.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { containersEnv, lowercaseTempDir, MANIFEST_ACCEPT, removeTree } from "./support.js";

const POLICIES = `
secrets:
  policies:
    - name: production
      repositories: ["prod/*"]
      mode: block
    - repositories: ["dev/*", "team/*"]
      mode: warn
`;

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const random = (n: number, alphabet: string) => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join("");
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, body] of Object.entries(files)) p.entry({ name, mode: 0o600 }, body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** An OCI layout at `dir` holding one image tagged `latest`: one gzip layer of `files`, `env` in its config. */
async function writeImage(dir: string, files: Record<string, string>, env: string[]): Promise<void> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const blob = async (content: Buffer, mediaType: string) => {
    const digest = sha256(content);
    await writeFile(join(dir, "blobs", "sha256", digest.slice(7)), content);
    return { mediaType, digest, size: content.length };
  };
  const tar = await tarOf(files);
  const layer = await blob(gzipSync(tar), "application/vnd.oci.image.layer.v1.tar+gzip");
  const config = await blob(Buffer.from(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Env: ["PATH=/usr/bin:/bin", ...env], Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: [sha256(tar)] },
    history: [{ created_by: "COPY . / # buildkit" }],
  })), "application/vnd.oci.image.config.v1+json");
  const manifest = await blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers: [layer] })), "application/vnd.oci.image.manifest.v1+json");
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations: { "org.opencontainers.image.ref.name": "latest" } }] }));
}

describe("secret scanning seen by skopeo", { skip: skipUnlessTools("skopeo") }, () => {
  let root: string;
  let berth: TestBerth;
  let env: Record<string, string>;
  const awsSecret = random(40, `${ALNUM}/+`);
  const githubToken = `ghp_${random(36, ALNUM)}`;
  const images = { credentials: "", envToken: "", clean: "" };

  const copy = (image: string, dest: string) =>
    run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${image}:latest`, `docker://${berth.host}/${dest}`], { env, allowFail: true, timeoutMs: 120_000 });
  const digestOf = async (name: string, tag: string) =>
    parseDigest((await fetch(`${berth.url}/v2/${name}/manifests/${tag}`, { method: "HEAD", headers: { Accept: MANIFEST_ACCEPT } })).headers.get("docker-content-digest")!);
  const status = async (name: string, tag: string) => (await fetch(`${berth.url}/v2/${name}/manifests/${tag}`, { method: "HEAD", headers: { Accept: MANIFEST_ACCEPT } })).status;
  const scanner = () => berth.berth.services.secrets!;
  const secretEvents = async () =>
    (await berth.berth.registry.stores.metadataStore.listEvents({ limit: 1000 })).filter((e) => e.type === "secret.found");

  before(async () => {
    root = await lowercaseTempDir("berth-e2e-secrets");
    const config = join(root, "berth.yaml");
    await writeFile(config, POLICIES);
    berth = await startBerth({ BERTH_CONFIG: config });
    env = await containersEnv(join(root, "containers"));
    images.credentials = join(root, "credentials");
    await writeImage(images.credentials, {
      "etc/hostname": "builder\n",
      "root/.aws/credentials": `[default]\naws_access_key_id = AKIA${random(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}\naws_secret_access_key = ${awsSecret}\n`,
    }, []);
    images.envToken = join(root, "env-token");
    await writeImage(images.envToken, { "app/main.sh": "#!/bin/sh\necho hello\n" }, [`GITHUB_TOKEN=${githubToken}`]);
    images.clean = join(root, "clean");
    await writeImage(images.clean, { "app/main.sh": "#!/bin/sh\necho clean\n", "app/.env.example": "API_TOKEN=changeme\n" }, ["HOME=/root"]);
  });
  after(async () => {
    await berth?.stop();
    if (root) await removeTree(root);
  });

  it("block: a layer with root/.aws/credentials is refused, the message names the file and the rule, not the secret; nothing is stored", async () => {
    const res = await copy(images.credentials, "prod/app:1");
    assert.notEqual(res.code, 0, "skopeo must fail");
    assert.match(res.stderr, /production \(prod\/\*\): layer sha256:[0-9a-f]{12}… file root\/\.aws\/credentials matches rule aws-access-key-id \(and 1 more finding\); remove the secret and push again/, res.stderr);
    assert.match(res.stderr, /denied/i);
    assert.ok(!res.stderr.includes(awsSecret) && !res.stderr.includes(awsSecret.slice(0, 10)), "the secret is not shown");
    assert.equal(await status("prod/app", "1"), 404, "the tag is absent");
  });

  it("block: a token only in the config's Env is refused naming the field and the rule", async () => {
    const res = await copy(images.envToken, "prod/app:2");
    assert.notEqual(res.code, 0, "skopeo must fail");
    assert.match(res.stderr, /image config sha256:[0-9a-f]{12}… field config\.Env\[1\] matches rule github-token; remove the secret and push again/, res.stderr);
    assert.ok(!res.stderr.includes(githubToken.slice(4, 14)), "the token is not shown");
    assert.equal(await status("prod/app", "2"), 404);
  });

  it("block: a clean image pushes fine", async () => {
    const res = await copy(images.clean, "prod/app:3");
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await status("prod/app", "3"), 200);
    const report = await scanner().report("prod/app", await digestOf("prod/app", "3"));
    assert.equal(report.status, "clean");
  });

  it("warn: the push succeeds, a secret.found event names the file and rule; a second repository reuses the scan", async () => {
    const res = await copy(images.credentials, "dev/app:1");
    assert.equal(res.code, 0, res.stderr);
    await scanner().settled();
    const digest = await digestOf("dev/app", "1");
    const [event] = (await secretEvents()).filter((e) => e.repository === "dev/app");
    assert.ok(event, "a secret.found event for dev/app");
    assert.equal(event.target?.digest, digest);
    const detail = event.detail as { policy: string; findings: { rule: string; file?: string }[] };
    assert.equal(detail.policy, "secrets.policies[1]");
    assert.deepEqual(detail.findings.map((f) => [f.rule, f.file]), [["aws-access-key-id", "root/.aws/credentials"], ["aws-secret-access-key", "root/.aws/credentials"]]);
    assert.ok(!JSON.stringify(event).includes(awsSecret), "no secret in the event");
    const audit = auditEntry(event as DomainEvent);
    assert.deepEqual([audit?.action, audit?.repository, audit?.target], ["secret.found", "dev/app", digest]);

    const report = await scanner().report("dev/app", digest);
    assert.equal(report.status, "found");
    assert.deepEqual(report.findings.map((f) => f.file), ["root/.aws/credentials", "root/.aws/credentials"]);
    assert.ok(!JSON.stringify(report).includes(awsSecret));

    // The same layer and config pushed to another repository: answered from the stored results.
    const scans = scanner().scansPerformed;
    const records = await berth.berth.registry.stores.metadataStore.countSupplyRecords(SECRETS_KIND);
    const again = await copy(images.credentials, "team/other:1");
    assert.equal(again.code, 0, again.stderr);
    await scanner().settled();
    assert.equal(scanner().scansPerformed, scans, "no blob scanned twice");
    assert.equal(await berth.berth.registry.stores.metadataStore.countSupplyRecords(SECRETS_KIND), records);
    assert.equal((await secretEvents()).filter((e) => e.repository === "team/other").length, 1);
  });
});
