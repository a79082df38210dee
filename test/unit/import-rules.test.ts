import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/**
 * The layers of src/, lowest first; docs/architecture.md describes the same table. A module may
 * import modules of its own layer and of layers with a lower rank; layers that share a rank
 * (auth/ and notify/) do not know each other. Type imports count: a type import is a dependency
 * too, and it is how cycles creep in.
 */
const LAYERS: { name: string; rank: number; holds: (path: string) => boolean }[] = [
  { name: "oci/", rank: 0, holds: (p) => p.startsWith("src/oci/") },
  {
    name: "utilities (config/, logger.ts, version.ts, lazy-require.ts, gc-nudge.ts)",
    rank: 1,
    holds: (p) => p.startsWith("src/config/") || ["src/logger.ts", "src/version.ts", "src/lazy-require.ts", "src/gc-nudge.ts"].includes(p),
  },
  { name: "storage/", rank: 2, holds: (p) => p.startsWith("src/storage/") },
  { name: "client/", rank: 2, holds: (p) => p.startsWith("src/client/") },
  { name: "registry/", rank: 3, holds: (p) => p.startsWith("src/registry/") },
  { name: "auth/", rank: 4, holds: (p) => p.startsWith("src/auth/") },
  { name: "notify/", rank: 4, holds: (p) => p.startsWith("src/notify/") },
  { name: "proxy/", rank: 4, holds: (p) => p.startsWith("src/proxy/") },
  { name: "supply/", rank: 4, holds: (p) => p.startsWith("src/supply/") },
  { name: "http/", rank: 5, holds: (p) => p.startsWith("src/http/") },
  { name: "root (server.ts, compose.ts, preflight.ts, periodic-job.ts)", rank: 6, holds: (p) => /^src\/[^/]+\.ts$/.test(p) },
  { name: "cli/", rank: 7, holds: (p) => p.startsWith("src/cli/") },
];

/** Rules beyond the ranks: what one module may not import although its layer is higher. */
const EXTRA_RULES: { why: string; breaks: (from: string, to: string) => boolean }[] = [
  { why: "cli/ may not import http/ (commands use the composition root)", breaks: (f, t) => f.startsWith("src/cli/") && t.startsWith("src/http/") },
  { why: "only cli/serve.ts may import server.ts", breaks: (f, t) => f.startsWith("src/cli/") && t === "src/server.ts" && f !== "src/cli/serve.ts" },
];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every relative import of each module (static, dynamic, `import type`, `export … from`), as repository paths. */
function importGraph(files: string[], read: (path: string) => string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(read(file), true, true);
    const targets = info.importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith("."))
      .map((name) => relative(ROOT, resolve(ROOT, dirname(file), name)).split("\\").join("/").replace(/\.js$/, ".ts"));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

function layerOf(path: string) {
  return LAYERS.find((l) => l.holds(path));
}

/** One line per import that breaks a rule: `src/a.ts imports src/b.ts: why`. */
function layerViolations(graph: Map<string, string[]>): string[] {
  const problems: string[] = [];
  for (const [from, targets] of graph) {
    const own = layerOf(from);
    if (!own) {
      problems.push(`${from} belongs to no layer: add its folder to LAYERS in test/unit/import-rules.test.ts and to docs/architecture.md`);
      continue;
    }
    for (const to of targets) {
      const other = layerOf(to);
      if (other && other !== own && other.rank >= own.rank) {
        problems.push(`${from} imports ${to}: ${own.name} may not import ${other.name}`);
      }
      for (const rule of EXTRA_RULES) if (rule.breaks(from, to)) problems.push(`${from} imports ${to}: ${rule.why}`);
    }
  }
  return problems;
}

/** Each import cycle (a strongly connected component of more than one module, or a self-import), as a path back to its start. */
function importCycles(graph: Map<string, string[]>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  // Tarjan's algorithm; the graph is small, so recursion depth is no concern.
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)!.includes(v)) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((component) => cyclePath(graph, new Set(component)));
}

/** A shortest path from the component's first module (by name) back to itself, inside the component. */
function cyclePath(graph: Map<string, string[]>, members: Set<string>): string {
  const start = [...members].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        for (let u = previous.get(v); u !== undefined; u = previous.get(u)) path.unshift(u);
        const others = [...members].filter((m) => !path.includes(m)).sort();
        return `import cycle: ${[...path, start].join(" → ")}${others.length > 0 ? ` (tangled with it: ${others.join(", ")})` : ""}`;
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return `import cycle among ${[...members].sort().join(", ")}`;
}

describe("import rules of src/", () => {
  const files = sourceFiles("src");
  const graph = importGraph(files, (path) => readFileSync(join(ROOT, path), "utf8"));

  it("finds the modules and their imports", () => {
    assert.ok(files.length > 50, `only ${files.length} modules under ${ROOT}/src`);
    assert.ok(graph.get("src/server.ts")!.includes("src/http/app.ts"), "server.ts's import of http/app.ts was not seen");
  });

  it("imports point down the layers", () => {
    assert.deepEqual(layerViolations(graph), []);
  });

  it("has no import cycles", () => {
    assert.deepEqual(importCycles(graph), []);
  });

  it("catches a layer violation and a cycle, naming them", () => {
    const bad = new Map([
      ["src/auth/setup.ts", ["src/http/guard.ts"]],
      ["src/http/guard.ts", ["src/auth/setup.ts"]],
      ["src/cli/gc.ts", ["src/server.ts"]],
      ["src/server.ts", []],
    ]);
    assert.deepEqual(layerViolations(bad), [
      "src/auth/setup.ts imports src/http/guard.ts: auth/ may not import http/",
      "src/cli/gc.ts imports src/server.ts: only cli/serve.ts may import server.ts",
    ]);
    assert.deepEqual(importCycles(bad), ["import cycle: src/auth/setup.ts → src/http/guard.ts → src/auth/setup.ts"]);
  });

  it("sees dynamic and type-only imports", () => {
    const g = importGraph(["src/cli/x.ts"], () => 'import type { A } from "../http/a.js";\nconst m = await import("./y.js");\nexport * from "../oci/z.js";\n');
    assert.deepEqual(g.get("src/cli/x.ts"), ["src/http/a.ts", "src/cli/y.ts", "src/oci/z.ts"]);
  });
});
