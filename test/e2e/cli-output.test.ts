import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { formatDuration, formatSize, parseDuration, parseSize } from "../../src/config/units.js";
import { BERTH_BIN, startBerth, type TestBerth } from "../helpers/berth.js";
import { run } from "../helpers/tools.js";

const berth = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [BERTH_BIN, ...args], { env, allowFail: true, timeoutMs: 30_000 });

/**
 * Runs berth with its standard output already closed by the reader, the way `| head -1` leaves it
 * once head has its line: every write then fails with EPIPE, whatever the timing.
 */
function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BERTH_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stderr })));
}

describe("berth output", () => {
  let b: TestBerth;
  before(async () => {
    b = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "pipe-admin-password" });
    // Something in the audit log and a second user, so both lists have lines to write.
    await run(process.execPath, [BERTH_BIN, "user", "add", "piper", "--password-stdin", "--data", b.data], { input: "piper-password\n" });
  });
  after(() => b.stop());

  it("output piped into a reader that went away (| head -1) ends quietly: no error, no stack", async () => {
    for (const args of [["--help"], ["user", "--help"], ["gc", "--help"], ["audit", "--data", b.data], ["user", "list", "--data", b.data]]) {
      const r = await withClosedStdout(args);
      assert.equal(r.stderr, "", `berth ${args.join(" ")} | head -1 printed:\n${r.stderr}`);
      assert.equal(r.code, 0, `berth ${args.join(" ")} | head -1`);
    }
    const shell = await run("sh", ["-c", `"${process.execPath}" "${BERTH_BIN}" --help | head -1; "${process.execPath}" "${BERTH_BIN}" audit --data "${b.data}" | head -1`]);
    assert.equal(shell.stderr, "");
    assert.match(shell.stdout, /^Usage: berth /);
  });

  it("berth config shows durations and sizes the way the configuration writes them, and loads back the same", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-config-"));
    try {
      const file = join(dir, "berth.yaml");
      await writeFile(
        file,
        [
          `data: ${join(dir, "data")}`,
          "uploads: {purgeInterval: 600s}",
          "manifests: {maxSize: 8MiB}",
          "gc: {grace: 90m, schedule: 'off'}",
          "auth: {tokenTtl: 15m}",
          "retention: {rules: [{repositories: 'team/*', keepWithin: 7d}]}",
          "quotas: {rules: [{namespace: team, limit: 2GB}]}",
          "",
        ].join("\n"),
      );
      const r = await berth(["config", "--config", file]);
      assert.equal(r.code, 0, r.stderr);
      const shown = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
      // As written: 600s stays 600s (not 10m), and the default expiry as the docs write it, 24h.
      assert.deepEqual(shown.uploads, { expiry: "24h", purgeInterval: "600s" });
      assert.deepEqual(shown.manifests, { maxSize: "8MiB" });
      assert.equal(shown.gc!.grace, "90m");
      assert.equal(shown.gc!.schedule, "off");
      assert.equal(shown.auth!.tokenTtl, "15m");
      assert.equal("enabled" in shown.auth!, false, "auth.enabled left out stays left out (a registry with users then refuses to start open)");
      assert.equal((JSON.parse((await berth(["config", "--config", file], { BERTH_AUTH: "off" })).stdout) as { auth: { enabled: boolean } }).auth.enabled, false);
      assert.equal(shown.shutdown!.timeout, "30s");
      assert.equal((shown.storage!.s3 as Record<string, unknown>).redirectTtl, "15m");
      assert.equal((shown.retention!.rules as Record<string, unknown>[])[0]!.keepWithin, "7d");
      assert.equal((shown.quotas!.rules as Record<string, unknown>[])[0]!.limit, "2GB");

      // What it prints is itself a configuration that means the same.
      const again = join(dir, "shown.json");
      await writeFile(again, r.stdout);
      assert.deepEqual(loadConfig({ file: again, env: {} }), loadConfig({ file, env: {} }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("durations and sizes are shown in the largest unit that is exact, and read back to the same value", () => {
    const durations: [number, string][] = [[0, "0s"], [1, "1ms"], [1500, "1500ms"], [90_000, "90s"], [600_000, "10m"], [5_400_000, "90m"], [86_400_000, "1d"], [90_000_000, "25h"]];
    for (const [ms, text] of durations) {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseDuration(text), ms);
    }
    const sizes: [number, string][] = [[0, "0"], [512, "512"], [4 * 1024 ** 2, "4MiB"], [10 ** 9, "1GB"], [3 * 1024 ** 3, "3GiB"], [1536 * 1024 ** 2, "1536MiB"], [1000, "1kB"]];
    for (const [bytes, text] of sizes) {
      assert.equal(formatSize(bytes), text);
      assert.equal(parseSize(text), bytes);
    }
  });

  it("a setting the code would have to clamp (token TTL under 60 s, a schedule under 1 s) is refused at load, exit 2", async () => {
    for (const [env, key] of [
      [{ BERTH_AUTH_TOKEN_TTL: "30s" }, "auth.tokenTtl"],
      [{ BERTH_GC_SCHEDULE: "500ms" }, "gc.schedule"],
      [{ BERTH_UPLOAD_PURGE_INTERVAL: "0s" }, "uploads.purgeInterval"],
    ] as const) {
      for (const command of ["config", "serve"]) {
        const r = await berth([command, "--listen", "127.0.0.1:0", "--data", join(b.data, "never")], env);
        assert.equal(r.code, 2, `${command} with ${JSON.stringify(env)}: ${r.stderr}`);
        assert.ok(r.stderr.includes(key) && /too short: at least 1(m|s)/.test(r.stderr), r.stderr);
        assert.match(r.stderr, /^berth: invalid configuration: [^\n]+\n$/, "one line, no stack trace");
      }
    }
    assert.equal((await berth(["config"], { BERTH_AUTH_TOKEN_TTL: "60s" })).code, 0, "exactly the floor is fine");
  });

  it("a registry that cannot be opened is one line naming it, exit 2; the driver's stack trace only with BERTH_DEBUG", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-broken-"));
    try {
      await writeFile(join(dir, "berth.db"), randomBytes(8192)); // not a database
      const plain = await berth(["usage", "--data", dir]);
      assert.equal(plain.code, 2, plain.stderr);
      assert.match(plain.stderr, /^berth: [^\n]*not a database[^\n]*\n$/);
      const debug = await berth(["usage", "--data", dir], { BERTH_DEBUG: "1" });
      assert.equal(debug.code, 2);
      assert.match(debug.stderr, /\n\s+at /, "the stack trace with BERTH_DEBUG");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
