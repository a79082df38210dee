import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createTextScan, OVERLAP, scanText, WINDOW, type SecretFinding } from "../../src/supply/secrets/match.js";
import { loadSecretRules, type SecretRuleSet } from "../../src/supply/secrets/rules.js";
import { skipUnlessTools } from "../helpers/tools.js";

const rules = loadSecretRules();
const tmp = mkdtempSync(join(tmpdir(), "berth-secret-rules-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Findings in `text` as if it were the file `path` of a layer. */
function scanFile(path: string, text: string, set: SecretRuleSet = rules): SecretFinding[] {
  return scanText(set.rules.filter((r) => r.kind === "content" && r.appliesTo(path)), { file: path }, text);
}
const ruleIds = (findings: SecretFinding[]) => findings.map((f) => f.rule);

/** Random text over `alphabet` (tokens are built at test time: no live-looking secret sits in the repository). */
function randomOf(length: number, alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"): string {
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join("");
}
const upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const awsSecret = () => randomOf(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+");

describe("secret rules: real-looking files are caught", () => {
  it("an AWS credentials file: the key id and the secret access key, by line, without the secret", () => {
    const secret = awsSecret();
    const text = `[default]\naws_access_key_id = AKIA${randomOf(16, upperDigits)}\naws_secret_access_key = ${secret}\nregion = eu-west-1\n`;
    const findings = scanFile("root/.aws/credentials", text);
    assert.deepEqual(findings.map((f) => [f.rule, f.line]), [["aws-access-key-id", 2], ["aws-secret-access-key", 3]]);
    assert.ok(!JSON.stringify(findings).includes(secret), "the secret itself is never in a finding");
    assert.equal(findings[1]!.hint, `${secret.slice(0, 4)}… (40 chars)`);
  });

  it("a ~/.docker/config.json with a basic auth and an identity token", () => {
    const auth = Buffer.from(`ci-bot:${randomOf(24)}`).toString("base64");
    const config = JSON.stringify({ auths: { "registry.example.com": { auth }, "ghcr.io": { identitytoken: randomOf(60) } }, credsStore: "" }, null, "\t");
    assert.deepEqual(ruleIds(scanFile("root/.docker/config.json", config)), ["docker-config-auth", "docker-config-auth"]);
    // The same JSON elsewhere (a test fixture, an API answer) is not a Docker config (a high-entropy token is still a token).
    assert.deepEqual(ruleIds(scanFile("usr/share/doc/example.json", config)), ["generic-secret-assignment"]);
  });

  it(".npmrc auth tokens and basic auth, .netrc and .pypirc passwords", () => {
    const npmrc = `registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=npm_${randomOf(36)}\n//npm.internal.example/:_auth=${Buffer.from("me:" + randomOf(12)).toString("base64")}\nalways-auth=true\n`;
    assert.deepEqual(ruleIds(scanFile("home/node/.npmrc", npmrc)), ["npm-token", "npmrc-auth"]);
    assert.deepEqual(ruleIds(scanFile("root/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n")), []);
    assert.deepEqual(ruleIds(scanFile("root/.netrc", `machine github.com\n  login deploy\n  password ${randomOf(20)}\n`)), ["netrc-password"]);
    const pypirc = `[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmc${randomOf(70)}\n`;
    assert.deepEqual(ruleIds(scanFile("root/.pypirc", pypirc)), ["pypi-token"]);
    assert.deepEqual(ruleIds(scanFile("root/.pypirc", "[pypi]\nusername = me\npassword = hunter2hunter2\n")), ["pypirc-password"]);
  });

  it("a kubeconfig's client key and token; the same keys in a YAML that is not a kubeconfig are not", () => {
    const kubeconfig = [
      "apiVersion: v1",
      "clusters:",
      "- cluster:",
      `    certificate-authority-data: ${randomOf(80)}`,
      "    server: https://10.0.0.1:6443",
      "  name: prod",
      "kind: Config",
      "users:",
      "- name: admin",
      "  user:",
      `    client-key-data: ${randomOf(120)}`,
      "- name: ci",
      "  user:",
      `    token: ${randomOf(8)}.${randomOf(16)}`,
      "",
    ].join("\n");
    const found = scanFile("root/.kube/config", kubeconfig).filter((f) => f.rule === "kubeconfig-credentials");
    assert.deepEqual(found.map((f) => f.line), [11, 14]);
    const values = "replicaCount: 2\nauth:\n  token: a-token-set-at-deploy-time\n";
    assert.deepEqual(ruleIds(scanFile("app/values.yaml", values)).filter((r) => r === "kubeconfig-credentials"), []);
  });

  it("a random token in a YAML that is not a kubeconfig is still found, by the generic rule; in a kubeconfig once, by the kubeconfig rule", () => {
    const token = randomOf(32);
    assert.deepEqual(ruleIds(scanFile("app/values.yaml", `replicaCount: 2\nauth:\n  token: ${token}\n`)), ["generic-secret-assignment"]);
    const kubeconfig = `apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: ${token}\n`;
    assert.deepEqual(ruleIds(scanFile("root/.kube/config", kubeconfig)), ["kubeconfig-credentials"]);
  });

  it(".env assignments of real values; placeholders, variables, file paths and public values are not", () => {
    const env = [
      "NODE_ENV=production",
      `DATABASE_PASSWORD=${randomOf(14)}`,
      "export STRIPE_API_KEY=\"changeme\"",
      "GITHUB_TOKEN=${GITHUB_TOKEN}",
      "POSTGRES_PASSWORD_FILE=/run/secrets/db",
      "SESSION_SECRET=<your session secret>",
      "AUTH_TOKEN=xxxxxxxxxxxx",
      "",
    ].join("\n");
    assert.deepEqual(scanFile("srv/app/.env", env).map((f) => [f.rule, f.line]), [["dotenv-secret", 2]]);
  });

  it("GitHub, GitLab, Slack, Stripe, Docker Hub tokens wherever they are", () => {
    const tokens: [string, string][] = [
      [`ghp_${randomOf(36)}`, "github-token"],
      [`gho_${randomOf(36)}`, "github-token"],
      [`ghu_${randomOf(36)}`, "github-token"],
      [`ghs_${randomOf(36)}`, "github-token"],
      [`ghr_${randomOf(36)}`, "github-token"],
      [`github_pat_${randomOf(22)}_${randomOf(59)}`, "github-fine-grained-token"],
      [`glpat-${randomOf(20)}`, "gitlab-token"],
      [`xoxb-${randomOf(12, "0123456789")}-${randomOf(13, "0123456789")}-${randomOf(24)}`, "slack-token"],
      [`https://hooks.slack.com/services/T${randomOf(8, upperDigits)}/B${randomOf(8, upperDigits)}/${randomOf(24)}`, "slack-webhook"],
      [`sk_live_${randomOf(24)}`, "stripe-key"],
      [`dckr_pat_${randomOf(27)}`, "dockerhub-token"],
    ];
    for (const [token, rule] of tokens) {
      assert.deepEqual(ruleIds(scanFile("opt/app/deploy.sh", `#!/bin/sh\ncurl -H "X: ${token}" https://example.com\n`)), [rule], token.slice(0, 12));
    }
  });

  it("PEM private keys of every kind node makes, encrypted ones too", () => {
    const pems = [
      generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }),
      generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }),
      generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" }),
      generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }),
      generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem", cipher: "aes-128-cbc", passphrase: "pw" }),
    ] as string[];
    for (const pem of pems) assert.deepEqual(ruleIds(scanFile("etc/ssl/private/server.key", pem)), ["private-key"], pem.split("\n")[0]);
  });

  it("an OpenSSH private key made by ssh-keygen, with and without a passphrase; its public key is not a secret", { skip: skipUnlessTools("ssh-keygen") }, () => {
    for (const passphrase of ["", "correct horse"]) {
      const key = join(tmp, `id_ed25519_${passphrase.length}`);
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", "deploy@ci", "-f", key]);
      assert.deepEqual(ruleIds(scanFile("root/.ssh/id_ed25519", readFileSync(key, "latin1"))), ["private-key"]);
      assert.deepEqual(ruleIds(scanFile("root/.ssh/id_ed25519.pub", readFileSync(`${key}.pub`, "latin1"))), []);
    }
  });
});

describe("secret rules: what must not fire", () => {
  it("documentation placeholders, variables, masks and stand-ins", () => {
    const text = [
      "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "password: ${DB_PASSWORD}",
      "api_key = 'changeme'",
      "token = '************************'",
      "secret = 'your-secret-goes-here-please-replace'",
      "password = aaaaaaaaaaaaaaaaaaaaaaaaaa",
      "",
    ].join("\n");
    assert.deepEqual(scanFile("usr/share/doc/app/README.md", text), []);
  });

  it("a PEM public key and an X.509 certificate", { skip: skipUnlessTools("openssl") }, () => {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    assert.deepEqual(scanFile("etc/keys/release.pub", publicKey.export({ type: "spki", format: "pem" }) as string), []);
    const key = join(tmp, "cert.key");
    const cert = join(tmp, "cert.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=berth.test", "-days", "1"], { stdio: "ignore" });
    assert.deepEqual(scanFile("etc/ssl/certs/berth.pem", readFileSync(cert, "latin1")), []);
    assert.deepEqual(ruleIds(scanFile("etc/ssl/private/berth.key", readFileSync(key, "latin1"))), ["private-key"], "the certificate's key is found");
  });

  it("source code that names the PEM header without a key after it", () => {
    const code = 'if (pem.startsWith("-----BEGIN RSA PRIVATE KEY-----")) return "pkcs1";\nconst HEADER = "-----BEGIN PRIVATE KEY-----\\n";\n';
    assert.deepEqual(scanFile("usr/lib/node_modules/x/index.js", code), []);
  });
});

describe("secret scanning of long text", () => {
  const pad = (n: number) => "# filler line of a large configuration file\n".repeat(Math.ceil(n / 44)).slice(0, n);

  it("finds a key split across two windows, once, on the right line", () => {
    for (const cut of [1, 5, 19]) {
      const token = `ghp_${randomOf(36)}`;
      const before = `${pad(WINDOW - cut - 1)} `;
      const text = `${before}${token}\n${pad(3 * WINDOW)}`;
      const scan = createTextScan(rules.rules.filter((r) => r.kind === "content" && !r.pathLimited), { file: "srv/big.conf" });
      for (let i = 0; i < text.length; i += 65_536) scan.feed(text.slice(i, i + 65_536));
      const findings = scan.end();
      assert.deepEqual(findings.map((f) => [f.rule, f.line]), [["github-token", before.split("\n").length]], `cut ${cut}`);
    }
  });

  it("a PEM key whose header ends one window and whose body starts the next", () => {
    const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" }) as string;
    const text = `${pad(WINDOW - 20)}${pem}`;
    assert.ok(OVERLAP > pem.indexOf("\n") + 60);
    const scan = createTextScan(rules.rules.filter((r) => r.kind === "content"), { file: "k" });
    scan.feed(text.slice(0, WINDOW));
    scan.feed(text.slice(WINDOW));
    assert.deepEqual(ruleIds(scan.end()), ["private-key"]);
  });
});

describe("secret rules file", () => {
  const file = (name: string, yaml: string) => {
    const path = join(tmp, name);
    writeFileSync(path, yaml);
    return path;
  };

  it("extends the built-ins, replaces one by id (keeping its other fields), disables one; the fingerprint changes", () => {
    const path = file("rules.yaml", [
      "rules:",
      "  - id: acme-api-key",
      "    description: ACME Corp API key",
      "    kind: content",
      "    pattern: '\\b(acme_[a-z0-9]{24})\\b'",
      "    keywords: [acme_]",
      "  - id: npm-token",
      "    description: npm token (ours, longer)",
      "    pattern: '\\b(npm_[A-Za-z0-9]{40})\\b'",
      "  - id: stripe-key",
      "    enabled: false",
      "",
    ].join("\n"));
    const custom = loadSecretRules(path);
    assert.notEqual(custom.fingerprint, rules.fingerprint);
    assert.equal(loadSecretRules(path).fingerprint, custom.fingerprint, "same rules, same fingerprint");
    const text = `key: acme_${randomOf(24, "abcdefghijklmnopqrstuvwxyz0123456789")}\nnpm: npm_${randomOf(36)}\nnpm2: npm_${randomOf(40)}\nstripe: sk_live_${randomOf(24)}\n`;
    assert.deepEqual(scanFile("app/notes.txt", text, custom).map((f) => [f.rule, f.line]), [["acme-api-key", 1], ["npm-token", 3]]);
    const replaced = custom.rules.find((r) => r.id === "npm-token")!;
    assert.deepEqual(replaced.keywords, ["npm_"], "fields the file leaves out come from the built-in");
    assert.equal(custom.rules.some((r) => r.id === "stripe-key"), false);
  });

  it("refuses a bad rule naming the file, the rule and the problem", () => {
    const bad: [string, RegExp][] = [
      ["rules:\n  - id: broken\n    description: x\n    kind: content\n    pattern: '([a-z'\n", /rules\[0\] \(broken\): pattern is not a valid regular expression/],
      ["rules:\n  - id: new-rule\n    kind: content\n    pattern: abc\n", /rules\[0\] \(new-rule\): description is required for a new rule/],
      ["rules:\n  - id: nothing\n    enabled: false\n", /rules\[0\] \(nothing\): enabled: false names no built-in rule/],
      ["rules:\n  - id: empty\n    description: x\n    kind: content\n    pattern: 'a*'\n", /rules\[0\] \(empty\): pattern matches the empty string/],
      ["rules:\n  - id: typo\n    description: x\n    kind: content\n    pattern: abc\n    keyword: [abc]\n", /rules\[0\] \(typo\): .*keyword/],
      ["rules:\n  - id: g\n    description: x\n    kind: content\n    pattern: abc\n    flags: g\n", /rules\[0\] \(g\): flags: only the flags i, m, s, u/],
      ["- just a list\n", /must be a map with a list of rules under "rules"/],
    ];
    bad.forEach(([yaml, message], i) => {
      const path = file(`bad-${i}.yaml`, yaml);
      assert.throws(() => loadSecretRules(path), (err: Error) => err.name === "ConfigError" && err.message.includes(path) && message.test(err.message), yaml);
    });
    assert.throws(() => loadSecretRules(join(tmp, "absent.yaml")), /absent\.yaml: cannot be read/);
  });
});
