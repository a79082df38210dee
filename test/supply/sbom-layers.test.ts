import assert from "node:assert/strict";
import { once } from "node:events";
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { createGzip, gzipSync } from "node:zlib";
import { pack, type Pack } from "tar-stream";
import { createLayerScanner } from "../../src/supply/sbom/scan-image.js";
import { randomChunks } from "../helpers/oci-layout.js";

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/sbom/${name}`, import.meta.url));

type File = { name: string; body?: string | Buffer; mode?: number };

async function layer(files: File[]): Promise<Readable> {
  const p = pack();
  for (const f of files) p.entry({ name: f.name, mode: f.mode ?? 0o644 }, f.body ?? "");
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Readable.from([gzipSync(Buffer.concat(chunks))]);
}

const base: File[] = [
  { name: "etc/os-release", body: fixture("os-release-debian") },
  { name: "var/lib/dpkg/status", body: fixture("dpkg-status") },
  { name: "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", body: fixture("pyyaml-METADATA") },
  { name: "app/node_modules/commander/package.json", body: JSON.stringify({ name: "commander", version: "14.0.3" }) },
];

async function scan(...layers: File[][]) {
  const scanner = createLayerScanner();
  for (const files of layers) await scanner.addLayer(await layer(files));
  return scanner.finish();
}

const names = (r: { packages: { name: string }[] }) => r.packages.map((p) => p.name);

describe("layer scanner", () => {
  it("lists the packages of every kind and the OS of a single layer", async () => {
    const r = await scan(base);
    assert.equal(r.os?.ecosystem, "Debian:12");
    assert.equal(r.packages.filter((p) => p.ecosystem === "Debian:12").length, 12);
    assert.ok(names(r).includes("PyYAML"));
    assert.ok(names(r).includes("commander"));
  });

  it("drops the packages of a database deleted in a higher layer", async () => {
    const r = await scan(base, [{ name: "var/lib/dpkg/.wh.status" }]);
    assert.equal(r.packages.some((p) => p.ecosystem === "Debian:12"), false);
    assert.ok(names(r).includes("PyYAML"));
  });

  it("drops what a deleted directory held, and what an opaque directory hides, but keeps the upper layer's own files", async () => {
    const deleted = await scan(base, [{ name: "app/.wh.node_modules" }]);
    assert.equal(names(deleted).includes("commander"), false);
    const opaque = await scan(base, [
      { name: "usr/lib/python3/dist-packages/.wh..wh..opq" },
      { name: "usr/lib/python3/dist-packages/blinker-1.5.dist-info/METADATA", body: "Metadata-Version: 2.1\nName: blinker\nVersion: 1.5\n" },
    ]);
    assert.equal(names(opaque).includes("PyYAML"), false);
    assert.ok(names(opaque).includes("blinker"));
    assert.ok(names(opaque).includes("libc6"));
  });

  it("takes a rewritten database from the upper layer (an apt-get remove)", async () => {
    const status = fixture("dpkg-status").toString().split("\n\n").filter((s) => !s.startsWith("Package: openssl\n")).join("\n\n");
    const r = await scan(base, [{ name: "var/lib/dpkg/status", body: status }]);
    assert.equal(names(r).includes("openssl"), false);
    assert.ok(names(r).includes("libssl3"));
  });

  it("merges the same package found twice into one with both locations", async () => {
    const lock = JSON.stringify({ lockfileVersion: 3, packages: { "": { name: "app" }, "node_modules/commander": { version: "14.0.3" } } });
    const r = await scan(base, [{ name: "app/package-lock.json", body: lock }]);
    const commander = r.packages.filter((p) => p.name === "commander");
    assert.equal(commander.length, 1);
    assert.deepEqual(commander[0]!.locations.sort(), ["app/node_modules/commander/package.json", "app/package-lock.json"]);
  });

  it("reads Go binaries and large layers with flat memory", { skip: !existsSync("/usr/bin/skopeo") && "no /usr/bin/skopeo" }, async (t) => {
    const filler = 64 << 20;
    const skopeo = statSync("/usr/bin/skopeo").size;
    const p = pack();
    const writeAll = async (entry: NodeJS.WritableStream, chunks: AsyncIterable<Buffer>) => {
      for await (const c of chunks) if (!entry.write(c)) await once(entry, "drain");
      entry.end();
    };
    const fill = async (tar: Pack) => {
      await writeAll(tar.entry({ name: "data/blob.bin", size: filler, mode: 0o755 }), randomChunks(filler, 1));
      await writeAll(tar.entry({ name: "usr/bin/skopeo", size: skopeo, mode: 0o755 }), createReadStream("/usr/bin/skopeo"));
      tar.finalize();
    };
    const scanner = createLayerScanner();
    const gz = p.pipe(createGzip({ level: 1 }));
    let compressed = 0;
    gz.on("data", (c: Buffer) => (compressed += c.length));
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = process.hrtime.bigint();
    await Promise.all([fill(p), scanner.addLayer(gz)]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    clearInterval(sampler);
    const r = scanner.finish();
    assert.ok(r.packages.some((x) => x.name === "stdlib" && x.locations[0] === "usr/bin/skopeo"));
    const mib = (filler + skopeo) / 2 ** 20;
    t.diagnostic(`${mib.toFixed(0)} MiB of tar (${(compressed / 2 ** 20).toFixed(0)} MiB gzip) in ${seconds.toFixed(2)} s, including making it: ${(mib / seconds).toFixed(0)} MiB/s; RSS grew ${((peak - before) / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(peak - before < 128 << 20, `RSS grew by ${(peak - before) >> 20} MiB`);
  });
});
