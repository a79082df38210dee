// Installs Berth the way a user does: `npm pack`, then `npm install -g` of the tarball into a
// temporary prefix, then the installed `berth` command run from an unrelated directory. The
// install compiles better-sqlite3 from source where no prebuilt binary can be fetched (minutes).
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { spawnServer } from "../helpers/berth.js";
import { run } from "../helpers/tools.js";

const CHECKOUT = fileURLToPath(new URL("../../../", import.meta.url));
/** What a source checkout contributes to the package; tests, bench and dist/ stay behind. */
const SOURCES = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "bin", "src", "ui", "scripts", "docs", "packaging", "README.md", "LICENSE"];

/** Outside CI the test needs the npm registry and skips without it; under CI=true it must be reachable. */
async function registrySkip(): Promise<false | string> {
  if (process.env.CI === "true") return false;
  const ping = await run("npm", ["ping"], { allowFail: true, timeoutMs: 30_000 }).catch((err: Error) => ({ code: 1, stderr: err.message }));
  if (ping.code === 0) return false;
  return `needs the npm registry to install dependencies (npm ping failed: ${ping.stderr.trim().split("\n").pop()})`;
}

describe("npm package: pack, global install, run", { skip: await registrySkip(), timeout: 30 * 60_000 }, () => {
  let root: string;
  let version: string;
  let tarball: string;
  let files: string[];
  const prefix = () => join(root, "prefix");
  const berth = () => join(prefix(), "bin", "berth");
  /** A directory that has nothing to do with Berth: commands are run from here. */
  const elsewhere = () => join(root, "elsewhere");

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-package-"));
    version = (JSON.parse(await readFile(join(CHECKOUT, "package.json"), "utf8")) as { version: string }).version;
    // Packed from a copy: `prepack` rebuilds dist/src, which other tests of this checkout may be reading.
    const source = join(root, "source");
    await mkdir(source);
    for (const entry of SOURCES) await cp(join(CHECKOUT, entry), join(source, entry), { recursive: true });
    await symlink(join(CHECKOUT, "node_modules"), join(source, "node_modules"));
    const packed = await run("npm", ["pack", "--json", "--pack-destination", root], { cwd: source, timeoutMs: 10 * 60_000 });
    const report = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
    tarball = join(root, report[0]!.filename);
    files = report[0]!.files.map((f) => f.path);
    await mkdir(elsewhere());
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("the tarball is berth-registry with the compiled code, the command, docs and unit; no tests, bench or sources", () => {
    assert.match(tarball, /berth-registry-\d+\.\d+\.\d+\.tgz$/);
    for (const needed of ["bin/berth.js", "dist/src/cli/main.js", "dist/ui/index.html", "README.md", "LICENSE", "docs/deployment.md", "packaging/systemd/berth.service", "package.json"]) {
      assert.ok(files.includes(needed), `${needed} is in the tarball`);
    }
    const unwanted = files.filter((f) => /^(test|bench|src|ui|scripts|node_modules|dist\/test|dist\/bench)\//.test(f) || f.endsWith(".map"));
    assert.deepEqual(unwanted, []);
  });

  it("npm install -g of the tarball gives a `berth` that answers --version from any directory", async () => {
    const installed = await run("npm", ["install", "-g", "--prefix", prefix(), "--no-audit", "--no-fund", tarball], {
      cwd: elsewhere(),
      timeoutMs: 25 * 60_000,
      allowFail: true,
    });
    assert.equal(installed.code, 0, `npm install -g failed:\n${installed.stderr}`);
    const shown = await run(berth(), ["--version"], { cwd: elsewhere() });
    assert.equal(shown.stdout.trim(), version);
  });

  it("the installed `berth serve` serves /v2/ on the data directory it is given and stops on SIGTERM", async () => {
    const data = join(root, "data");
    const served = await spawnServer([berth(), "serve", "--listen", "127.0.0.1:0", "--data", data], { cwd: elsewhere() });
    let code: number | null;
    try {
      const base = await fetch(`${served.url}/v2/`);
      assert.equal(base.status, 200, served.output.join("\n"));
      assert.equal(base.headers.get("docker-distribution-api-version"), "registry/2.0");
      assert.equal((await fetch(`${served.url}/healthz`)).status, 200);
      const ui = await fetch(`${served.url}/ui/`);
      assert.equal(ui.status, 200, "the installed package serves the web UI");
      const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(await ui.text());
      assert.ok(script, "index.html names its script");
      assert.equal((await fetch(`${served.url}${script[1]}`)).status, 200, "and the script it names");
    } finally {
      code = await served.stop();
    }
    assert.equal(code, 0, `berth serve stops cleanly on SIGTERM:\n${served.output.join("\n")}`);
    assert.ok((await readdir(data)).length > 0, "the registry was created in --data");
    assert.deepEqual(await readdir(elsewhere()), [], "nothing was written to the working directory");
  });
});
