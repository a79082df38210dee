#!/usr/bin/env node
// Builds the web UI (ui/) into dist/ui/: type-checks it, bundles and minifies it with esbuild
// (content-hashed names, so the assets can be cached forever), writes a gzipped copy of each
// asset, and writes index.html naming them. Run by `npm run build:ui`, `npm test` and `prepare`
// (so `npm ci` builds it). Fails (exit 1) on a type error or a first page over the JS budget.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "ui");
/** The budget for the first page's JavaScript, gzipped. */
const BUDGET_GZIP_BYTES = 200 * 1024;

const USAGE = "usage: node scripts/build-ui.mjs   (npm run build:ui)\nBuilds ui/ into dist/ui/: type check, bundle, gzip, index.html. Takes no options.";
const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}
if (args.length > 0) {
  console.error(`build-ui: unknown argument ${args[0]}\n${USAGE}`);
  process.exit(2);
}
execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "ui", "tsconfig.json")], { stdio: "inherit" });

rmSync(out, { recursive: true, force: true });
const result = await build({
  entryPoints: { app: join(root, "ui", "src", "main.tsx") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome109", "firefox115", "safari16"],
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  jsx: "automatic",
  jsxImportSource: "preact",
  metafile: true,
  logLevel: "warning",
  legalComments: "none",
});

const assets = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = assets.find((a) => a.endsWith(".js"));
const css = assets.find((a) => a.endsWith(".css"));
if (!js || !css) throw new Error(`esbuild wrote ${assets.join(", ")}: expected one .js and one .css`);
let gzipped = 0;
for (const asset of assets) {
  const body = readFileSync(join(out, "assets", asset));
  const gz = gzipSync(body, { level: 9 });
  writeFileSync(join(out, "assets", `${asset}.gz`), gz);
  if (asset.endsWith(".js")) gzipped += gz.length;
}
const html = readFileSync(join(root, "ui", "index.html"), "utf8").replace("%APP_JS%", `/ui/assets/${js}`).replace("%APP_CSS%", `/ui/assets/${css}`);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "index.html"), html);
writeFileSync(join(out, "build.json"), JSON.stringify({ js, css, jsGzipBytes: gzipped }, null, 2) + "\n");
if (gzipped > BUDGET_GZIP_BYTES) {
  console.error(`build-ui: the first page's JavaScript is ${gzipped} bytes gzipped, over the ${BUDGET_GZIP_BYTES}-byte budget`);
  process.exit(1);
}
console.log(`build-ui: dist/ui/ (${js}: ${(gzipped / 1024).toFixed(1)} KiB gzipped)`);
