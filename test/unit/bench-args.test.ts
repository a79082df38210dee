import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const bench = (name: string) => fileURLToPath(new URL(`../../bench/${name}.js`, import.meta.url));
const run = (name: string, ...args: string[]) => spawnSync(process.execPath, [bench(name), ...args], { encoding: "utf8", timeout: 20_000 });

describe("bench commands asked for help or given a typo", () => {
  for (const name of ["run", "proxy", "supply", "small-images", "memory", "vulndb-import", "metrics-ab", "webhooks-ab", "gc", "scale", "embedded-scale", "ui-api", "ui"]) {
    it(`${name}: --help prints the usage and exits 0 without running; a mistyped flag exits 2`, () => {
      const help = run(name, "--help");
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /^usage: /);
      assert.doesNotMatch(help.stdout + help.stderr, /berth on |round 1|starting|started/i, "nothing started");
      const typo = run(name, "--rounsd", "3");
      assert.equal(typo.status, 2);
      assert.match(typo.stderr, /--rounsd/);
    });
  }
});
