import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const UI_SRC = fileURLToPath(new URL("../../../ui/src/", import.meta.url));

/**
 * Ways to turn a string into markup or code. The UI renders pushed content with JSX text only;
 * none of these may appear in its source, so no page can render an annotation as HTML.
 */
const SINKS: [RegExp, string][] = [
  [/dangerouslySetInnerHTML/, "dangerouslySetInnerHTML"],
  [/\.(inner|outer)HTML\b/, "innerHTML/outerHTML"],
  [/insertAdjacentHTML/, "insertAdjacentHTML"],
  [/document\.write/, "document.write"],
  [/\beval\s*\(/, "eval"],
  [/new\s+Function\s*\(/, "new Function"],
  [/setAttribute\(\s*["'`]on/i, "an on… attribute"],
  [/\bsrcdoc\b/i, "srcdoc"],
  [/createContextualFragment|DOMParser/, "an HTML parser"],
  [/["'`]javascript:/i, "a javascript: URL"],
];

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (/\.(ts|tsx)$/.test(entry.name)) out.push(path);
  }
  return out;
}

describe("web UI source: no HTML sinks", () => {
  it("no page or component turns a string into markup, code or a script URL", async () => {
    const files = await sources(UI_SRC);
    assert.ok(files.length > 10, `found the UI's sources in ${UI_SRC}`);
    const found: string[] = [];
    for (const file of files) {
      const lines = (await readFile(file, "utf8")).split("\n");
      lines.forEach((line, i) => {
        for (const [pattern, what] of SINKS) if (pattern.test(line)) found.push(`${file.slice(UI_SRC.length)}:${i + 1}: ${what}`);
      });
    }
    assert.deepEqual(found, []);
  });

  it("the HTML shell has no inline script or style for the CSP to allow", async () => {
    const html = await readFile(join(UI_SRC, "..", "index.html"), "utf8");
    for (const tag of html.match(/<script\b[^>]*>[\s\S]*?<\/script>/g) ?? []) assert.match(tag, /^<script\b[^>]*\bsrc="[^"]+"[^>]*><\/script>$/, "scripts are files");
    assert.doesNotMatch(html, /<style\b|\sstyle=|\son[a-z]+=/i, "no inline style or handlers");
  });
});
