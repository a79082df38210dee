// packaging/systemd/berth.service: systemd-analyze accepts it, its hardening holds, and the command
// it runs starts Berth and stops it cleanly on SIGTERM. `verify` needs ExecStart's binary to
// exist, so a copy is checked with the installed paths (/usr/bin/node, /usr/lib/node_modules/…)
// replaced by this machine's node and this checkout's bin/berth.js; nothing else is changed.
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { spawnServer } from "../helpers/berth.js";
import { run, skipUnlessTools } from "../helpers/tools.js";

const CHECKOUT = fileURLToPath(new URL("../../../", import.meta.url));
const UNIT = join(CHECKOUT, "packaging", "systemd", "berth.service");
const INSTALLED_NODE = "/usr/bin/node";
const INSTALLED_BERTH = "/usr/lib/node_modules/berth-registry/bin/berth.js";

/** `Key=value` lines of the unit (comments dropped), in order; a key may repeat. */
function settings(text: string): [string, string][] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith("[") && line.includes("="))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]);
}

const seconds = (value: string) => {
  const match = /^(\d+)(s|min)?$/.exec(value);
  assert.ok(match, `a duration in seconds or minutes: ${value}`);
  return Number(match[1]) * (match[2] === "min" ? 60 : 1);
};

describe("systemd unit", { skip: skipUnlessTools("systemd-analyze") }, () => {
  let dir: string;
  let text: string;
  let unit: Map<string, string>;
  let local: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-systemd-"));
    text = await readFile(UNIT, "utf8");
    unit = new Map(settings(text));
    local = join(dir, "berth.service");
    await writeFile(local, text.replaceAll(INSTALLED_NODE, process.execPath).replaceAll(INSTALLED_BERTH, join(CHECKOUT, "bin", "berth.js")));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("systemd-analyze verify accepts it without a warning", async () => {
    assert.ok(text.includes(INSTALLED_NODE) && text.includes(INSTALLED_BERTH), "the installed paths are the ones the copy replaces");
    const verified = await run("systemd-analyze", ["verify", local], { cwd: dir, allowFail: true });
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(verified.stderr.trim(), "", "no warnings");
  });

  it("runs node on bin/berth.js serve directly, as its own user, on the state directory, stopping after the drain", () => {
    const exec = unit.get("ExecStart")!.split(/\s+/);
    assert.deepEqual(exec.slice(0, 3), [INSTALLED_NODE, INSTALLED_BERTH, "serve"], "not through npm: SIGTERM must reach Berth");
    assert.equal(exec[exec.indexOf("--data") + 1], "/var/lib/berth");
    assert.equal(exec[exec.indexOf("--config") + 1], "/etc/berth/berth.yaml");
    assert.equal(unit.get("StateDirectory"), "berth");
    assert.equal(unit.get("ConfigurationDirectory"), "berth");
    assert.ok(unit.get("User") === "berth" || unit.get("DynamicUser") === "yes", "not root");
    assert.equal(unit.get("Restart"), "on-failure");
    assert.ok(seconds(unit.get("TimeoutStopSec")!) > 30, "above shutdown.timeout's default of 30 s");
  });

  it("is hardened (systemd-analyze security rates it OK) and leaves out what breaks node", async () => {
    for (const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["PrivateDevices", "yes"],
      ["ProtectKernelTunables", "yes"],
      ["ProtectKernelModules", "yes"],
      ["ProtectControlGroups", "yes"],
      ["LockPersonality", "yes"],
      ["SystemCallFilter", "@system-service"],
      ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"],
      ["CapabilityBoundingSet", ""],
    ]) {
      assert.equal(unit.get(key!), value, `${key}=${value}`);
    }
    assert.equal(unit.has("MemoryDenyWriteExecute"), false, "V8's JIT needs writable then executable memory");
    const security = await run("systemd-analyze", ["security", "--offline=yes", local], { cwd: dir, allowFail: true });
    const level = /Overall exposure level for berth\.service: ([\d.]+) (\w+)/.exec(security.stdout);
    assert.ok(level, security.stdout + security.stderr);
    assert.ok(Number(level[1]) < 2, `exposure ${level[1]} ${level[2]}`);
  });

  it("its command line starts Berth with the shipped berth.yaml and exits 0 on SIGTERM", async () => {
    const config = join(dir, "berth.yaml");
    await copyFile(join(CHECKOUT, "packaging", "systemd", "berth.yaml"), config);
    const exec = unit.get("ExecStart")!.split(/\s+/);
    const args = exec.slice(1).map((arg) =>
      arg === INSTALLED_BERTH ? join(CHECKOUT, "bin", "berth.js") : arg === "/etc/berth/berth.yaml" ? config : arg === "/var/lib/berth" ? join(dir, "data") : arg,
    );
    // The shipped listen address (127.0.0.1:5000) may be taken on a shared machine: port 0 instead.
    const served = await spawnServer([process.execPath, ...args, "--listen", "127.0.0.1:0"], { cwd: dir });
    let code: number | null;
    try {
      assert.equal((await fetch(`${served.url}/healthz`)).status, 200);
    } finally {
      code = await served.stop();
    }
    assert.equal(code, 0, served.output.join("\n"));
  });
});
