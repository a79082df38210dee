import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { LayerFormatError, readLayerEntries, whiteoutOf } from "../../src/supply/layer-entries.js";

async function tarOf(files: { name: string; body?: string; type?: "directory" | "symlink"; linkname?: string }[]): Promise<Buffer> {
  const p = pack();
  for (const f of files) {
    if (f.type) p.entry({ name: f.name, type: f.type, ...(f.linkname ? { linkname: f.linkname } : {}) });
    else p.entry({ name: f.name }, f.body ?? "");
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function entries(bytes: Buffer, read: (path: string) => boolean = () => true) {
  const seen: { path: string; type: string; body?: string }[] = [];
  await readLayerEntries(Readable.from([bytes]), async (entry, body) => {
    seen.push({ path: entry.path, type: entry.type, ...(read(entry.path) && entry.type === "file" ? { body: await text(body) } : {}) });
  });
  return seen;
}

describe("readLayerEntries", () => {
  const files = [
    { name: "./etc/", type: "directory" as const },
    { name: "./etc/os-release", body: "ID=debian\n" },
    { name: "usr/bin/sh", type: "symlink" as const, linkname: "dash" },
    { name: "/var/lib/dpkg/status", body: "Package: base-files\n" },
  ];

  it("reads a gzip layer and a plain tar alike, with normalised paths and each file's bytes", async () => {
    const tar = await tarOf(files);
    const expected = [
      { path: "etc", type: "directory" },
      { path: "etc/os-release", type: "file", body: "ID=debian\n" },
      { path: "usr/bin/sh", type: "symlink" },
      { path: "var/lib/dpkg/status", type: "file", body: "Package: base-files\n" },
    ];
    assert.deepEqual(await entries(gzipSync(tar)), expected);
    assert.deepEqual(await entries(tar), expected);
  });

  it("drains the bodies a visitor leaves unread", async () => {
    const big = "x".repeat(1 << 20);
    const seen = await entries(gzipSync(await tarOf([{ name: "big", body: big }, { name: "after", body: "ok" }])), (p) => p === "after");
    assert.deepEqual(seen, [{ path: "big", type: "file" }, { path: "after", type: "file", body: "ok" }]);
  });

  it("refuses zstd, corrupt gzip and non-tar bytes with a LayerFormatError", async () => {
    const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    await assert.rejects(entries(zstd), (err: Error) => err instanceof LayerFormatError && /zstd/.test(err.message));
    const gz = gzipSync(await tarOf(files));
    await assert.rejects(entries(Buffer.concat([gz.subarray(0, 40), Buffer.alloc(100, 7)])), LayerFormatError);
    await assert.rejects(entries(Buffer.alloc(1024, 0x41)), LayerFormatError);
  });

  it("passes a visitor's failure on", async () => {
    await assert.rejects(
      readLayerEntries(Readable.from([await tarOf(files)]), () => {
        throw new Error("visitor broke");
      }),
      /visitor broke/,
    );
  });
});

describe("whiteoutOf", () => {
  it("names what a whiteout removes", () => {
    assert.deepEqual(whiteoutOf("etc/.wh.passwd"), { kind: "file", target: "etc/passwd" });
    assert.deepEqual(whiteoutOf(".wh.opt"), { kind: "file", target: "opt" });
    assert.deepEqual(whiteoutOf("var/lib/apt/.wh..wh..opq"), { kind: "opaque", target: "var/lib/apt" });
    assert.equal(whiteoutOf("etc/passwd"), undefined);
    assert.equal(whiteoutOf("etc/.wh."), undefined);
  });
});
