import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { BERTH_BIN, spawnBerth } from "../helpers/berth.js";
import { run } from "../helpers/tools.js";

const berth = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [BERTH_BIN, ...args], { env, allowFail: true, timeoutMs: 20_000 });

describe("berth command", () => {
  it("berth --help lists the commands and options", async () => {
    const { code, stdout } = await berth(["--help"]);
    assert.equal(code, 0);
    for (const word of ["serve", "--listen", "--data", "--config", "--log-level", "BERTH_LISTEN", "BERTH_DATA"]) {
      assert.ok(stdout.includes(word), `help mentions ${word}`);
    }
  });

  it("berth alone, and berth with only options (npm start -- --listen …), is berth serve", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-cli-"));
    try {
      for (const args of [[], ["--listen", "127.0.0.1:0", "--data", join(dir, "flags")]]) {
        const child = spawn(process.execPath, [BERTH_BIN, ...args], {
          cwd: dir,
          env: { ...process.env, BERTH_LISTEN: "127.0.0.1:0", BERTH_DATA: join(dir, "env") },
          stdio: ["ignore", "pipe", "pipe"],
        });
        const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
        let output = "";
        const started = await new Promise<Record<string, string>>((resolve, reject) => {
          child.stdout.on("data", (chunk: Buffer) => {
            output += chunk.toString();
            const line = output.split("\n").find((l) => l.includes("berth started"));
            if (line) resolve(JSON.parse(line) as Record<string, string>);
          });
          void exited.then((code) => reject(new Error(`berth ${args.join(" ")} exited with ${code}: ${output}`)));
        });
        assert.equal(started.data, join(dir, args.length ? "flags" : "env"));
        assert.equal((await fetch(`${started.listen}/v2/`)).status, 200);
        child.kill("SIGTERM");
        assert.equal(await exited, 0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a bad configuration at start-up with a clear message and exit code 2", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-cli-"));
    const file = join(dir, "berth.yaml");
    await writeFile(file, "listen: 127.0.0.1:99999\n");
    const bad = await berth(["serve", "--config", file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid configuration .*berth\.yaml/);
    assert.match(bad.stderr, /listen: not a listen address/);
    const unknown = await berth(["serve", "--frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /frobnicate/);
    await rm(dir, { recursive: true, force: true });
  });

  it("berth serve prints where it listens and keeps data, logs one JSON line per request", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-cli-"));
    const proc = await spawnBerth(dir, { BERTH_LOG_LEVEL: "info" });
    try {
      const started = JSON.parse(proc.output.find((l) => l.includes("berth started"))!) as Record<string, string>;
      assert.equal(started.data, dir);
      assert.match(started.listen!, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${proc.url}/v2/`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
      assert.equal((await fetch(`${proc.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${proc.url}/readyz`)).status, 200);
      await new Promise((r) => setTimeout(r, 50));
      const line = proc.output.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "request" && l.path === "/v2/");
      assert.ok(line, "an access-log line for GET /v2/");
      assert.equal(line.method, "GET");
      assert.equal(line.status, 200);
      assert.equal(typeof line.duration_ms, "number");
      assert.equal(typeof line.bytes, "number");

      // A client hanging up mid-request got no answer: logged as 499 and aborted, never as a 200.
      const socket = connect(Number(new URL(proc.url).port), "127.0.0.1");
      await new Promise((r) => socket.once("connect", r));
      socket.write("PUT /v2/cli/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"schema");
      await new Promise((r) => setTimeout(r, 100));
      socket.destroy();
      const deadline = Date.now() + 5000;
      const cut = () =>
        proc.output.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "request" && l.path === "/v2/cli/app/manifests/v1");
      while (!cut() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(cut()?.status, 499);
      assert.equal(cut()?.aborted, true);
    } finally {
      assert.equal(await proc.stop(), 0);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
