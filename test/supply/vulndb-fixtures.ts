import { createWriteStream, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pipeline } from "node:stream/promises";
import yazl from "yazl";

/** Real OSV records (test/fixtures/osv/README.md says where each comes from). */
export const OSV_FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), "../../../test/fixtures/osv");

export type OsvJson = Record<string, unknown> & { id: string; modified: string; affected: Record<string, unknown>[] };

/** A fixture record by ecosystem folder and id, parsed (a fresh copy each call). */
export function osvFixture(folder: string, id: string): OsvJson {
  return JSON.parse(readFileSync(join(OSV_FIXTURES, folder, `${id}.json`), "utf8")) as OsvJson;
}

/** Every fixture record. */
export function allOsvFixtures(): OsvJson[] {
  return readdirSync(OSV_FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(OSV_FIXTURES, d.name)).map((f) => osvFixture(d.name, f.replace(/\.json$/, ""))));
}

/** Writes a zip as OSV publishes it: one deflated `<name>` entry per record (`store`: uncompressed). */
export async function writeZip(path: string, entries: { name: string; text: string; store?: boolean }[] | Iterable<{ name: string; text: string; store?: boolean }>): Promise<void> {
  const zip = new yazl.ZipFile();
  const done = pipeline(zip.outputStream, createWriteStream(path));
  for (const e of entries) zip.addBuffer(Buffer.from(e.text), e.name, { compress: e.store !== true });
  zip.end();
  await done;
}

export const recordEntry = (r: { id: string }) => ({ name: `${r.id}.json`, text: JSON.stringify(r, null, 2) });

/**
 * A zip at `path` updating two real advisories: DLA-3008-1's fix moved to `1.1.0l-1~deb9u7`, and
 * GHSA-p8p7-x288-28g6 no longer naming any package but `request`.
 */
export async function writeAdvisoryUpdate(path: string): Promise<void> {
  const dla = osvFixture("Debian", "DLA-3008-1");
  (dla.affected[0]!.ranges as { events: Record<string, string>[] }[])[0]!.events[1] = { fixed: "1.1.0l-1~deb9u7" };
  dla.modified = "2026-04-01T00:00:00Z";
  const ghsa = osvFixture("npm", "GHSA-p8p7-x288-28g6");
  ghsa.affected = ghsa.affected.filter((a) => (a.package as { name: string }).name === "request");
  ghsa.modified = "2026-04-01T00:00:00Z";
  await writeZip(path, [recordEntry(dla), recordEntry(ghsa)]);
}

/**
 * `count` records shaped as the real ones of each ecosystem (ids, ranges, versions lists, CVSS
 * vectors, Debian upstream), over a realistic spread of packages (`revision` > 0: the same advisories, all modified later): most advisories name one of a
 * few thousand packages, a few name the handful of packages with hundreds (linux, chromium…).
 */
export function* syntheticRecords(count: number, revision = 0): Generator<{ name: string; text: string }> {
  const templates = allOsvFixtures();
  for (let i = 0; i < count; i++) {
    const base = structuredClone(templates[i % templates.length]!);
    const hot = i % 10 === 0;
    const pkg = hot ? `hot-${i % 7}` : `pkg-${(i * 7919) % 4000}`;
    base.id = `${base.id}-S${i}`;
    base.modified = new Date(Date.UTC(2025, 0, 1 + revision) + i * 1000).toISOString();
    for (const a of base.affected) {
      const p = a.package as { name: string } | undefined;
      if (p) p.name = pkg;
    }
    yield recordEntry(base);
  }
}
