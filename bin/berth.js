#!/usr/bin/env node
// The `berth` command. The TypeScript build (npm run build, run by npm ci/install) produces dist/.
import { existsSync } from "node:fs";

const entry = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("berth: dist/ is missing; run `npm run build` (npm ci does it) first\n");
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
