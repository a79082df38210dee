import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const BENCH = fileURLToPath(new URL("../../bench/embedded-scale.js", import.meta.url));

interface QuickResult {
  shape: { blobs: number; repos: number };
  tagsOfBiggest: number;
  start: { empty: number; first: number; second: number };
  lists: { walks: Record<string, { pages: number }>; tagWalk: { pages: number }; manifests: { reps: number } };
  pushes: Record<string, number>;
  gc: { output: string };
}

/**
 * The quick mode of `npm run bench:embedded-scale` (20,000 blobs, 2,000 repositories, built in
 * the stores): `berth serve` starts on it, and every catalog and tag page it serves, manifest
 * it returns and push it takes is checked by the bench against the generated state.
 */
test("berth serve on a registry of 20,000 blobs and 2,000 repositories lists, serves and takes pushes correctly", { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, [BENCH, "--quick", "--json", "--idle", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(code, 0, `bench failed:\n${err}`);
  const r = JSON.parse(out.trim().split("\n").pop()!) as QuickResult;
  assert.deepEqual(r.shape, { blobs: 20_000, repos: 2_000 });
  assert.ok(r.start.first > 0 && r.start.second > 0, "the server answered /v2/ with 200 on both starts");
  // Every page was compared with the generated names; here the walks' page counts.
  assert.equal(r.lists.walks["n=1000"]!.pages, 2);
  assert.equal(r.lists.walks["n=100"]!.pages, 20);
  assert.equal(r.lists.tagWalk.pages, r.tagsOfBiggest / 100);
  assert.equal(r.lists.manifests.reps, 500);
  assert.equal(Object.keys(r.pushes).length, 3);
  assert.match(r.gc.output, /Garbage collection over 2001 repositories/);
});
