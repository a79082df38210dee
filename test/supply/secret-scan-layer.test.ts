import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { LayerFormatError } from "../../src/supply/layer-entries.js";
import { scanImageConfig } from "../../src/supply/secrets/scan-config.js";
import { scanLayer } from "../../src/supply/secrets/scan-layer.js";
import { loadSecretRules } from "../../src/supply/secrets/rules.js";

const rules = loadSecretRules();
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const random = (n: number) => [...randomBytes(n)].map((b) => ALNUM[b % ALNUM.length]).join("");

async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const p = pack();
  for (const [name, body] of Object.entries(files)) p.entry({ name }, body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("scanLayer", () => {
  it("reads text files of a gzip layer; binaries, files over maxFileSize and empty files are not read; path rules see names", async () => {
    const token = `ghp_${random(36)}`;
    const layer = gzipSync(await tarOf({
      "app/deploy.sh": `#!/bin/sh\nexport GH=${token}\n`,
      "usr/bin/tool": Buffer.concat([Buffer.from("\x7fELF\0\0\0"), Buffer.from(`\n${token}\n`)]),
      "srv/big.log": `${"x".repeat(2048)}\n${token}\n`,
      "etc/certs/client.p12": Buffer.from([0x30, 0x82, 0x01, 0x00]),
      "etc/empty.p12": "",
    }));
    const result = await scanLayer(Readable.from([layer]), rules, { maxFileSize: 1024 });
    assert.deepEqual(result.findings.map((f) => [f.rule, f.file, f.line]), [["github-token", "app/deploy.sh", 2], ["pkcs12-file", "etc/certs/client.p12", undefined]]);
    assert.equal(result.files, 5);
    assert.equal(result.scannedFiles, 1, "only the shell script is read (a binary, a big file, a keystore and an empty file are not)");
  });

  it("refuses a blob that is not a layer with a LayerFormatError", async () => {
    await assert.rejects(scanLayer(Readable.from([Buffer.from('{"architecture":"amd64"}'.padEnd(1024, " "))]), rules, { maxFileSize: 1 << 20 }), LayerFormatError);
  });

  it("throughput on a large layer of text (reported; at least 5 MB/s, so a backtracking pattern cannot slip in)", async () => {
    // Source-like text: lines of code with the usual words (token, password, key) that wake keyword pre-filters up.
    const line = (i: number) => `  const value${i} = config.get("service.${i % 97}.timeout") ?? options.password_policy; // token refresh after key rotation ${random(12)}\n`;
    const file = Array.from({ length: 8000 }, (_, i) => line(i)).join("");
    const files: Record<string, string> = {};
    const count = Math.ceil((64 << 20) / file.length);
    for (let i = 0; i < count; i++) files[`usr/lib/app/module-${i}.js`] = file;
    const planted = `ghp_${random(36)}`;
    files["usr/lib/app/module-7.js"] = file.slice(0, 500_000) + `\nconst t = "${planted}";\n` + file.slice(500_000);
    const tar = await tarOf(files);
    const layer = gzipSync(tar);
    const started = process.hrtime.bigint();
    const rss = process.memoryUsage().rss;
    const result = await scanLayer(Readable.from([layer]), rules, { maxFileSize: 10 << 20 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const mbps = tar.length / 1e6 / seconds;
    console.log(`# secret scan: ${(tar.length / 1e6).toFixed(1)} MB of text in ${seconds.toFixed(2)} s = ${mbps.toFixed(1)} MB/s (gunzip included), rss +${((process.memoryUsage().rss - rss) / 1e6).toFixed(0)} MB`);
    assert.deepEqual(result.findings.map((f) => [f.rule, f.file]), [["github-token", "usr/lib/app/module-7.js"]]);
    assert.ok(mbps > 5, `${mbps.toFixed(1)} MB/s`);
  });
});

describe("scanImageConfig", () => {
  it("names Env, Cmd, Labels and history fields; PATH, public values and placeholders are not findings", () => {
    const token = `glpat-${random(20)}`;
    const config = {
      architecture: "amd64",
      config: {
        Env: ["PATH=/usr/local/bin:/usr/bin", "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", `DB_PASSWORD=${random(16)}`, "API_TOKEN=${API_TOKEN}"],
        Cmd: ["/bin/sh", "-c", `git clone https://oauth2:${token}@gitlab.example.com/x.git`],
        Labels: { "org.opencontainers.image.source": "https://github.com/x/y", "deploy.slack": `https://hooks.slack.com/services/T0123ABCD/B0123ABCD/${random(24)}` },
      },
      history: [
        { created_by: "/bin/sh -c #(nop) ADD file:abc in /" },
        { created_by: `RUN /bin/sh -c echo "//registry.npmjs.org/:_authToken=npm_${random(36)}" > ~/.npmrc && npm ci # buildkit` },
      ],
    };
    const findings = scanImageConfig(Buffer.from(JSON.stringify(config)), rules);
    assert.deepEqual(findings.map((f) => [f.rule, f.field]), [
      ["dotenv-secret", "config.Env[2]"],
      ["gitlab-token", "config.Cmd[2]"],
      ["slack-webhook", "config.Labels.deploy.slack"],
      ["npm-token", "history[1].created_by"],
    ]);
    assert.ok(findings.every((f) => f.line === undefined && f.file === undefined));
    assert.deepEqual(scanImageConfig(Buffer.from("not json"), rules), []);
  });
});
