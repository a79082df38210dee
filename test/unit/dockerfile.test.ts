// The Dockerfile's promises, read from the file: a build stage and a runtime stage with production
// dependencies only, a non-root user, the data directory as a volume, 0.0.0.0:5000 inside, a
// healthcheck on /healthz without curl, and node on bin/berth.js as the entrypoint (so SIGTERM
// reaches Berth). Building it needs base images; docs/deployment.md says where it has been built.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const CHECKOUT = fileURLToPath(new URL("../../../", import.meta.url));

/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

describe("Dockerfile", () => {
  it("has a build stage and a runtime stage that copies only compiled code and pruned dependencies", async () => {
    const steps = instructions(await readFile(`${CHECKOUT}Dockerfile`, "utf8"));
    const froms = steps.filter((s) => s.op === "FROM");
    assert.equal(froms.length, 2, "two stages");
    assert.match(froms[0]!.args, / AS build$/i);
    const build = steps.slice(steps.indexOf(froms[0]!), steps.indexOf(froms[1]!));
    const runtime = steps.slice(steps.indexOf(froms[1]!));
    assert.ok(build.some((s) => s.op === "RUN" && /npm ci/.test(s.args)), "dev dependencies installed to compile");
    assert.ok(build.some((s) => s.op === "RUN" && /tsc/.test(s.args) && /npm prune --omit=dev/.test(s.args)), "compiled, then pruned");
    const copies = runtime.filter((s) => s.op === "COPY").map((s) => s.args);
    assert.ok(copies.some((c) => /--from=build \/build\/node_modules/.test(c)));
    assert.ok(copies.some((c) => /--from=build \/build\/dist\/src /.test(c)), "only dist/src, not the tests");
    assert.ok(!runtime.some((s) => s.op === "RUN" && /npm (ci|install)/.test(s.args)), "no install in the runtime stage");
  });

  it("runs as a non-root user, keeps data in a volume, listens on 0.0.0.0:5000, checks /healthz with node", async () => {
    const steps = instructions(await readFile(`${CHECKOUT}Dockerfile`, "utf8"));
    const last = (op: string) => steps.filter((s) => s.op === op).pop()?.args;
    assert.ok(last("USER") && !/^(root|0)(:|$)/.test(last("USER")!), `USER ${last("USER")}`);
    assert.equal(last("VOLUME"), "/var/lib/berth");
    assert.equal(last("EXPOSE"), "5000");
    const env = steps.filter((s) => s.op === "ENV").map((s) => s.args).join(" ");
    assert.match(env, /BERTH_LISTEN=0\.0\.0\.0:5000/);
    assert.match(env, /BERTH_DATA=\/var\/lib\/berth/);
    assert.match(last("HEALTHCHECK")!, /CMD \["node", "-e", ".*\/healthz/);
    assert.equal(last("ENTRYPOINT"), '["node", "/opt/berth/bin/berth.js"]', "exec form: node is PID 1 and gets SIGTERM");
    assert.equal(last("CMD"), '["serve"]');
  });

  it(".dockerignore keeps node_modules, dist, data and the tests out of the build context", async () => {
    const rules = (await readFile(`${CHECKOUT}.dockerignore`, "utf8")).split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    assert.equal(rules[0], "*", "everything is excluded first");
    const included = rules.filter((r) => r.startsWith("!")).map((r) => r.slice(1));
    assert.deepEqual(included.filter((r) => /^(node_modules|dist|data|test|bench)/.test(r)), []);
    for (const needed of ["package.json", "package-lock.json", "src/", "bin/"]) assert.ok(included.includes(needed), needed);
  });
});
