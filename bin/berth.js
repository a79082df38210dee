#!/usr/bin/env node
// The `berth` command. The TypeScript build (npm run build, run by npm ci/install) produces dist/.
import { existsSync } from "node:fs";
import { setFlagsFromString } from "node:v8";

// V8 grows its young generation from 1 to 16 MiB per semi-space under allocation (start-up is
// enough) and keeps it: ~30 MiB of resident memory for fewer scavenges, which Berth's short-lived
// garbage does not need. Kept at 1 MiB (docs/performance.md, "Memory and pull CPU (issue 15)"),
// unless the operator sized it with --max-semi-space-size or --min-semi-space-size.
const nodeFlags = `${process.env.NODE_OPTIONS ?? ""} ${process.execArgv.join(" ")}`;
if (!nodeFlags.includes("semi-space")) setFlagsFromString("--semi-space-growth-factor=1");

const entry = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("berth: dist/ is missing; run `npm run build` (npm ci does it) first\n");
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
