import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { displayConfig } from "../../src/config/display.js";
import { ConfigError, loadConfig } from "../../src/config/load.js";
import { WEBHOOK_ACTIONS } from "../../src/config/schema.js";
import { webhookSecretKey } from "../../src/config/webhook-secret.js";
import { EVENT_CATEGORIES } from "../../src/registry/events.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async function withFile<T>(text: string, fn: (file: string, dir: string) => T | Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "berth-webhooks-config-"));
  try {
    const file = join(dir, "berth.yaml");
    await writeFile(file, text);
    return await fn(file, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const problems = (text: string) =>
  withFile(text, (file) => {
    try {
      loadConfig({ file, env: {} });
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.message;
    }
    assert.fail("the configuration loaded");
  });

describe("notifications configuration", () => {
  it("fills the defaults: distribution format, every action but pull and auth, 5s timeout, 24h retries, 7d retention", async () => {
    await withFile(`notifications:\n  endpoints:\n    - name: deploy\n      url: https://ci.example/hook\n      secret: ${SECRET}\n`, (file) => {
      const { notifications } = loadConfig({ file, env: {} });
      const [e] = notifications.endpoints;
      assert.equal(e!.format, "distribution");
      assert.deepEqual(e!.actions, ["push", "mount", "delete", "tag", "gc", "retention", "quota", "access", "scan"]);
      assert.equal(e!.repositories, undefined);
      assert.equal(e!.timeout, 5000);
      assert.equal(e!.retryFor, 24 * 3600 * 1000);
      assert.equal(e!.enabled, true);
      assert.equal(notifications.eventRetention, 7 * 86_400_000);
    });
  });

  it("takes exactly the event categories of registry/events.ts as actions", () => {
    assert.deepEqual([...WEBHOOK_ACTIONS].sort(), [...EVENT_CATEGORIES].sort());
  });

  it("reads secretFile at load and checks it like an inline secret", async () => {
    await withFile("", async (_f, dir) => {
      const secretFile = join(dir, "secret");
      await writeFile(secretFile, "a-plain-secret-of-more-than-24-bytes\n");
      const file = join(dir, "ok.yaml");
      await writeFile(file, `notifications:\n  endpoints:\n    - {name: a, url: "http://127.0.0.1:1/x", secretFile: ${secretFile}}\n`);
      assert.equal(loadConfig({ file, env: {} }).notifications.endpoints[0]!.secret, "a-plain-secret-of-more-than-24-bytes");
      await writeFile(secretFile, "short\n");
      assert.throws(() => loadConfig({ file, env: {} }), /endpoints\[0\]\.secret \(from .*secret\): too short: 5 bytes, at least 24/);
    });
  });

  it("refuses bad endpoints, naming each problem", async () => {
    const message = await problems(
      [
        "notifications:",
        "  endpoints:",
        "    - {name: Deploy, url: 'ftp://x/y', actions: [push, pushh], timeout: soon}",
        "    - {name: b, url: 'https://user:pw@ci.example/', secret: short, headers: {Content-Type: text/plain, X-Ok: 'a'}}",
        "    - {name: b, url: 'https://ci.example/', secret: 'whsec_not base64!', secretFile: /x}",
        "    - {name: c, url: 'https://ci.example/', colour: blue}",
        "    - {name: d, url: 'discord.com/api/webhooks/123/tok3n-in-the-path'}",
      ].join("\n"),
    );
    assert.match(message, /endpoints\.0\.name: 1 to 64 of a-z 0-9/);
    assert.match(message, /endpoints\.0\.url: an http:\/\/ or https:\/\/ URL/);
    assert.match(message, /endpoints\.0\.actions\.1: Invalid enum value\. Expected 'push' \| 'mount'/);
    assert.match(message, /endpoints\.0\.timeout: not a duration: soon/);
    assert.match(message, /endpoints\.1\.url: no user or password in the URL/);
    assert.match(message, /endpoints\.1\.secret: too short/);
    assert.match(message, /endpoints\.1\.headers\.Content-Type: Berth sets this header itself/);
    assert.match(message, /endpoints\.2\.secretFile: give secret or secretFile, not both/);
    assert.match(message, /endpoints\.2\.secret: a whsec_ secret continues with base64/);
    assert.match(message, /colour/);
    assert.match(message, /endpoints\.4\.url: not a URL/);
    assert.doesNotMatch(message, /tok3n-in-the-path/, "a URL is never repeated in an error");
    assert.doesNotMatch(message, /whsec_not base64/, "the secret is never repeated in an error");
  });

  it("refuses two endpoints of one name", async () => {
    const message = await problems("notifications:\n  endpoints:\n    - {name: b, url: 'https://a.example/'}\n    - {name: b, url: 'https://b.example/'}\n");
    assert.match(message, /notifications\.endpoints\.1\.name: another endpoint is named b/);
  });

  it("takes whsec_ secrets as base64 and plain ones as their bytes, 24 to 64 bytes", () => {
    assert.deepEqual(webhookSecretKey(SECRET), { key: Buffer.from(SECRET.slice(6), "base64") });
    assert.deepEqual(webhookSecretKey("x".repeat(24)), { key: Buffer.from("x".repeat(24)) });
    assert.ok("problem" in webhookSecretKey("x".repeat(23)));
    assert.ok("problem" in webhookSecretKey("x".repeat(65)));
    assert.ok("problem" in webhookSecretKey("whsec_c2hvcnQ="));
  });

  it("berth config masks secrets, header values and URL paths and queries, and shows durations as written", async () => {
    const text = [
      "notifications:",
      "  eventRetention: 3d",
      "  endpoints:",
      `    - {name: a, url: 'https://ci.example/hook?token=hunter2hunter2', secret: ${SECRET}, headers: {Authorization: Bearer topsecret}, timeout: 2500ms}`,
      "    - {name: b, url: 'https://discord.example:8443/api/webhooks/123/tok3n-in-the-path'}",
      "    - {name: c, url: 'http://127.0.0.1:9000/'}",
    ].join("\n");
    await withFile(text, (file) => {
      const shown = JSON.stringify(displayConfig(loadConfig({ file, env: {} })));
      for (const secret of ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "topsecret", "hunter2", "tok3n", "webhooks/123"]) assert.ok(!shown.includes(secret), `${secret} shown: ${shown}`);
      const notifications = (JSON.parse(shown) as { notifications: { eventRetention: string; endpoints: Record<string, unknown>[] } }).notifications;
      assert.equal(notifications.eventRetention, "3d");
      assert.equal(notifications.endpoints[0]!.timeout, "2500ms");
      assert.equal(notifications.endpoints[0]!.retryFor, "24h");
      assert.deepEqual(notifications.endpoints[0]!.headers, { Authorization: "********" });
      assert.deepEqual(notifications.endpoints.map((e) => e.url), ["https://ci.example/…?…", "https://discord.example:8443/…", "http://127.0.0.1:9000"]);
    });
  });
});
