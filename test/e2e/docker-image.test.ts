// Builds the Dockerfile and runs the image: the image's own HEALTHCHECK turns healthy, `docker
// stop` ends it with exit status 0 (node as PID 1 handles SIGTERM), skopeo pushes and pulls
// through it with access control on, and the volume keeps the data across a restart.
// Opt-in (BERTH_TEST_DOCKER_IMAGE=1): a build from nothing takes tens of minutes on a private
// engine's vfs storage. Base images: BERTH_TEST_DOCKER_BUILD_IMAGE / BERTH_TEST_DOCKER_RUNTIME_IMAGE
// (default: the official node:20 images, pulled), or `docker load`ed from BERTH_TEST_DOCKER_BASES
// (a `docker save` tarball, e.g. of packaging/docker/make-local-base.sh's images).
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { startDockerd, type Dockerd } from "../helpers/dockerd.js";
import { writeImageLayout } from "../helpers/oci-layout.js";
import { freePort, run, skipUnlessTools } from "../helpers/tools.js";

const CHECKOUT = fileURLToPath(new URL("../../../", import.meta.url));
const BUILD_IMAGE = process.env.BERTH_TEST_DOCKER_BUILD_IMAGE ?? "node:20-bookworm";
const RUNTIME_IMAGE = process.env.BERTH_TEST_DOCKER_RUNTIME_IMAGE ?? "node:20-bookworm-slim";
const PASSWORD = "docker-image-test-password";

const skip =
  process.env.BERTH_TEST_DOCKER_IMAGE === "1"
    ? skipUnlessTools("docker", "dockerd", "skopeo")
    : "builds the Docker image (tens of minutes): set BERTH_TEST_DOCKER_IMAGE=1 to run it";

describe("Docker image", { skip, timeout: 90 * 60_000 }, () => {
  let root: string;
  let engine: Dockerd;
  const docker = (args: string[], timeoutMs = 120_000) => run("docker", args, { env: engine.env, timeoutMs, allowFail: true });
  const image = "berth-image-test:latest";

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-docker-image-"));
    engine = await startDockerd();
    if (process.env.BERTH_TEST_DOCKER_BASES) {
      const loaded = await docker(["load", "-i", process.env.BERTH_TEST_DOCKER_BASES], 20 * 60_000);
      assert.equal(loaded.code, 0, loaded.stderr);
    } else {
      for (const base of [BUILD_IMAGE, RUNTIME_IMAGE]) {
        const pulled = await docker(["pull", base], 20 * 60_000);
        assert.equal(pulled.code, 0, `cannot pull ${base} (no Docker Hub? see BERTH_TEST_DOCKER_BASES): ${pulled.stderr}`);
      }
    }
    // The private engine has no bridge network: the build's npm ci and the containers use the host's.
    const built = await run(
      "docker",
      ["build", "--network", "host", "--build-arg", `BUILD_IMAGE=${BUILD_IMAGE}`, "--build-arg", `RUNTIME_IMAGE=${RUNTIME_IMAGE}`, "-t", image, CHECKOUT],
      { env: { ...engine.env, DOCKER_BUILDKIT: "0" }, timeoutMs: 80 * 60_000, allowFail: true },
    );
    assert.equal(built.code, 0, `docker build failed:\n${built.stdout.slice(-4000)}\n${built.stderr.slice(-4000)}`);
  });
  after(async () => {
    await engine?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("the image's HEALTHCHECK turns healthy on its defaults, and docker stop ends it with status 0", async () => {
    const started = await docker(["run", "-d", "--name", "berth-health", "--network", "none", image]);
    assert.equal(started.code, 0, started.stderr);
    const inspect = async (format: string) => (await docker(["inspect", "--format", format, "berth-health"])).stdout.trim();
    let health = "";
    for (let i = 0; i < 60 && health !== "healthy"; i++) {
      health = await inspect("{{.State.Health.Status}}");
      if (health !== "healthy") await sleep(2000);
    }
    assert.equal(health, "healthy", (await docker(["logs", "berth-health"])).stdout);
    assert.equal(await inspect("{{.Config.User}}"), "berth");
    assert.equal((await docker(["stop", "-t", "45", "berth-health"])).code, 0);
    assert.equal(await inspect("{{.State.ExitCode}}"), "0", (await docker(["logs", "berth-health"])).stdout);
  });

  it("skopeo pushes and pulls through it with access control on; a restart on the volume keeps the image", async () => {
    const port = await freePort();
    const secret = join(root, "admin-password");
    await writeFile(secret, PASSWORD);
    await chmod(secret, 0o644);
    const started = await docker([
      "run", "-d", "--name", "berth-registry", "--network", "host",
      "-v", "berth-test-data:/var/lib/berth",
      "-v", `${secret}:/run/secrets/berth-admin-password:ro`,
      "-e", `BERTH_LISTEN=127.0.0.1:${port}`,
      "-e", "BERTH_AUTH=on",
      "-e", "BERTH_ADMIN_PASSWORD_FILE=/run/secrets/berth-admin-password",
      image,
    ]);
    assert.equal(started.code, 0, started.stderr);
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 60; i++) {
      if ((await fetch(`${base}/healthz`).catch(() => undefined))?.ok) break;
      await sleep(500);
    }
    const layout = await writeImageLayout(join(root, "layout"), { ref: "v1", layers: [{ randomBytes: 512 * 1024, seed: 3 }] });
    const env = { REGISTRY_AUTH_FILE: join(root, "auth.json") };
    const creds = `admin:${PASSWORD}`;
    const target = `docker://127.0.0.1:${port}/team/app:v1`;
    const pushed = await run("skopeo", ["copy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${layout.dir}:${layout.ref}`, target], { env, allowFail: true });
    assert.equal(pushed.code, 0, pushed.stderr);
    const anonymous = await fetch(`${base}/v2/team/app/manifests/v1`, { method: "HEAD" });
    assert.equal(anonymous.status, 401, "access control is on");
    const ui = await fetch(`${base}/ui/`);
    assert.equal(ui.status, 200, "the image serves the web UI it built");
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(await ui.text());
    assert.ok(script && (await fetch(`${base}${script[1]}`)).ok, "and the script index.html names");

    assert.equal((await docker(["restart", "-t", "45", "berth-registry"])).code, 0);
    const original = await run("skopeo", ["inspect", "--raw", `oci:${layout.dir}:${layout.ref}`], { env });
    let served = "";
    for (let i = 0; i < 60 && served === ""; i++) {
      const got = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", "--creds", creds, target], { env, allowFail: true });
      if (got.code === 0) served = got.stdout;
      else await sleep(500);
    }
    assert.equal(served, original.stdout, "the pushed manifest survives a restart, byte for byte");
    const pulled = await run("skopeo", ["copy", "--src-tls-verify=false", "--src-creds", creds, target, `oci:${join(root, "pulled")}:v1`], { env, allowFail: true });
    assert.equal(pulled.code, 0, pulled.stderr);
    await docker(["rm", "-f", "berth-registry"]);
  });
});
