import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Command } from "commander";
import { commandPath, createProgram, groupCommands, leafCommands } from "../../src/cli/program.js";
import { BERTH_BIN, spawnBerth } from "../helpers/berth.js";
import { makeImage, makeLayer } from "../helpers/fixtures.js";
import { pushBlob, pushManifest } from "../helpers/push.js";
import { run, type RunResult } from "../helpers/tools.js";

/**
 * Every command of the program definition, walked against a populated registry: `--help` and `-h`
 * print help and change nothing; an unknown flag, a stray argument, a missing argument or a missing
 * command is one line on stderr and exit 2, and changes nothing. A command added later is walked
 * too, because the list comes from createProgram, not from this file.
 */

const { program } = createProgram("0.0.0");
const leaves = leafCommands(program);
const groups = groupCommands(program);

/** sha256 of every file under `dir` (SQLite's database, -wal and -shm included), by relative path. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path) + (entry.isDirectory() ? "/" : ""), entry.isFile() ? createHash("sha256").update(await readFile(path)).digest("hex") : "");
  }
  return files;
}

/** Values that satisfy a command's required (and optional) arguments and mandatory options. */
function validArgs(cmd: Command): string[] {
  const args = cmd.registeredArguments.map((a) => (a.argChoices ? a.argChoices[0]! : a.name().includes(":") ? "walk/app:v1" : "walk/app"));
  const options = cmd.options.filter((o) => o.mandatory).flatMap((o) => [o.long!, "walk.yaml"]);
  return [...args, ...options];
}

/** At most `n` at a time: the commands are independent and the machine is shared. */
async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  }));
  return results;
}

describe("every berth command, from the program definition", () => {
  let root: string;
  let data: string;
  let cwd: string;
  let env: Record<string, string>;
  let before_: Map<string, string>;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-walk-"));
    data = join(root, "data");
    cwd = join(root, "cwd");
    await run("mkdir", ["-p", cwd]);
    const config = join(root, "berth.yaml");
    // A rule that would delete a tag and a grace that lets gc delete at once: a command that ran
    // instead of printing its help would show in the data directory.
    await writeFile(config, "gc: {grace: 0s}\nretention: {rules: [{repositories: 'walk/*', keepLast: 1}]}\n");
    env = { BERTH_CONFIG: config, BERTH_DATA: data, BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "walk-admin-password", BERTH_LOG_LEVEL: "warn" };
    const open = await spawnBerth(data, { BERTH_CONFIG: config, BERTH_LOG_LEVEL: "info" });
    try {
      for (const tag of ["v1", "v2"]) {
        const image = makeImage({ layers: [makeLayer({ [`${tag}.txt`]: tag })] });
        for (const blob of [...image.layers, image.config]) await pushBlob(open.url, "walk/app", blob);
        await pushManifest(open.url, "walk/app", tag, image.manifest, image.manifestMediaType);
      }
    } finally {
      assert.equal(await open.stop(), 0);
    }
    // Access control on once: the admin user and the signing key exist, so key rotate and user
    // commands have something to change.
    const guarded = await spawnBerth(data, { ...env, BERTH_LOG_LEVEL: "info" });
    assert.equal(await guarded.stop(), 0);
    before_ = await snapshot(data);
    assert.ok([...before_.keys()].some((f) => f.endsWith(".db")), "the registry has its database");
  });
  after(() => rm(root, { recursive: true, force: true }));

  const berth = (args: string[]) => run(process.execPath, [BERTH_BIN, ...args], { env, cwd, allowFail: true, timeoutMs: 60_000 });

  /** Runs each argv (a few at a time), checks each result, then that nothing changed on disk. */
  async function walk(argvs: string[][], check: (argv: string[], r: RunResult) => void): Promise<void> {
    for (let i = 0; i < argvs.length; i += 4) {
      const batch = argvs.slice(i, i + 4);
      const results = await pool(batch, 4, berth);
      batch.forEach((argv, j) => check(argv, results[j]!));
      assert.deepEqual(await snapshot(data), before_, `berth ${batch.map((a) => a.join(" ")).join(" | ")} changed the data directory`);
      assert.deepEqual(await readdir(cwd), [], `berth ${batch.map((a) => a.join(" ")).join(" | ")} created files in the working directory`);
    }
  }

  const oneLineUsageError = (argv: string[], r: RunResult, mentions?: string) => {
    const what = `berth ${argv.join(" ")}`;
    assert.equal(r.code, 2, `${what}: exit 2, got ${r.code}\n${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, "", `${what}: nothing on stdout`);
    assert.match(r.stderr, /^berth: [^\n]+\n$/, `${what}: one line on stderr, got:\n${r.stderr}`);
    if (mentions) assert.ok(r.stderr.includes(mentions), `${what}: the error names ${mentions}: ${r.stderr}`);
  };

  it("the definition has the commands operators reach for", () => {
    const names = leaves.map((c) => commandPath(c).join(" "));
    for (const name of ["serve", "config", "migrate", "gc", "retention", "usage", "user add", "token create", "ns list", "ns del", "ns member add", "repo list", "repo delete", "tag list", "tag delete", "audit", "key rotate", "events list", "events endpoints", "events replay", "vulndb import", "vulndb status"]) {
      assert.ok(names.includes(name), `berth ${name} is defined`);
    }
    assert.deepEqual(groups.map((g) => commandPath(g).join(" ")), ["user", "token", "ns", "ns member", "repo", "tag", "key", "events", "vulndb"]);
  });

  it("--help and -h on every command print its help, exit 0 and change nothing", async () => {
    const argvs = leaves.flatMap((c) => [[...commandPath(c), "--help"], [...commandPath(c), "-h"]]);
    await walk(argvs, (argv, r) => {
      const path = argv.slice(0, -1).join(" ");
      assert.equal(r.code, 0, `berth ${argv.join(" ")}: exit 0, got ${r.code}\n${r.stderr}`);
      assert.ok(r.stdout.startsWith(`Usage: berth ${path} `), `berth ${argv.join(" ")} prints its usage:\n${r.stdout}`);
      assert.match(r.stdout, /--help/);
      assert.equal(r.stderr, "");
    });
  });

  it("an unknown flag on every command is one line and exit 2, and changes nothing", async () => {
    await walk(leaves.map((c) => [...commandPath(c), ...validArgs(c), "--no-such-flag"]), (argv, r) => oneLineUsageError(argv, r, "--no-such-flag"));
  });

  it("a flag where a value belongs (gc --data --help) is refused, not taken as the value", async () => {
    const withValues = leaves.filter((c) => c.options.some((o) => o.required));
    assert.ok(withValues.length > 10);
    await walk(
      withValues.map((c) => [...commandPath(c), ...validArgs(c), c.options.find((o) => o.required)!.long!, "--help"]),
      (argv, r) => oneLineUsageError(argv, r, "not the flag --help"),
    );
  });

  it("a stray argument on every command is one line and exit 2, and changes nothing", async () => {
    // After a variadic argument (vulndb import FILE…) a stray word is one more value: refused by the command itself (a file that is not there, exit 1).
    const variadic = (argv: string[]) => leaves.find((c) => argv.join(" ").startsWith(`${commandPath(c).join(" ")} `))?.registeredArguments.at(-1)?.variadic === true;
    await walk(leaves.map((c) => [...commandPath(c), ...validArgs(c), "stray-word"]), (argv, r) => {
      if (!variadic(argv) || r.code === 2) return oneLineUsageError(argv, r, "stray-word");
      assert.equal(r.code, 1, `berth ${argv.join(" ")}: exit 1 or 2, got ${r.code}`);
      assert.match(r.stderr, /^berth[^\n]*stray-word[^\n]*\n$/);
    });
  });

  it("a missing argument is one line and exit 2, and changes nothing", async () => {
    const needy = leaves.filter((c) => c.registeredArguments.some((a) => a.required));
    assert.ok(needy.length > 5);
    await walk(needy.map((c) => commandPath(c)), (argv, r) => oneLineUsageError(argv, r, "missing"));
  });

  it("every group lists its commands on --help, and refuses a missing or unknown command", async () => {
    await walk(groups.map((g) => [...commandPath(g), "--help"]), (argv, r) => {
      const group = groups.find((g) => commandPath(g).join(" ") === argv.slice(0, -1).join(" "))!;
      assert.equal(r.code, 0, r.stderr);
      for (const sub of group.commands) assert.ok(r.stdout.includes(`${commandPath(sub).join(" ")} `), `berth ${argv.join(" ")} lists ${sub.name()}:\n${r.stdout}`);
    });
    await walk(groups.map((g) => commandPath(g)), (argv, r) => oneLineUsageError(argv, r, "missing command"));
    await walk(groups.map((g) => [...commandPath(g), "no-such-command"]), (argv, r) => oneLineUsageError(argv, r, "no-such-command"));
  });

  it("berth --help lists every command by its full name; an unknown command is one line and exit 2", async () => {
    await walk([["--help"], ["no-such-command"], ["--no-such-flag"]], (argv, r) => {
      if (argv[0] !== "--help") return oneLineUsageError(argv, r, argv[0]);
      assert.equal(r.code, 0);
      for (const leaf of leaves) assert.ok(r.stdout.includes(`  ${commandPath(leaf).join(" ")}`), `berth --help lists ${commandPath(leaf).join(" ")}`);
    });
  });
});
