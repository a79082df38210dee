import { open, readFile, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import * as zlib from "node:zlib";
import yauzl from "yauzl";
import { BlockReader } from "./block-reader.js";

/** One record's text as read from a file, or why it could not be read. */
export type OsvEntry = { name: string; text: string } | { name: string; error: string };

/** Larger entries are refused without being read: the biggest real advisories are a few hundred KiB. */
export const MAX_ENTRY_BYTES = 32 * 1024 * 1024;

// zlib.crc32 arrived in Node 20.15; earlier 20.x releases get the table-driven one.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (data: Buffer): number => {
  if (typeof zlib.crc32 === "function") return zlib.crc32(data) >>> 0;
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

async function isZip(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    // A local file header, or the end-of-central-directory record of an empty archive.
    return bytesRead === 4 && head.readUInt16LE(0) === 0x4b50 && (head.readUInt16LE(2) === 0x0403 || head.readUInt16LE(2) === 0x0605);
  } finally {
    await handle.close();
  }
}

async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new Error(`larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * An entry's text, inflated here in one synchronous call and checked against its size and CRC:
 * records are small, and yauzl's inflating stream costs a thread-pool round trip per entry.
 */
async function entryText(zip: yauzl.ZipFile, entry: yauzl.Entry, limit: number): Promise<string> {
  if (entry.isEncrypted()) throw new Error("encrypted");
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) throw new Error(`unsupported compression method ${entry.compressionMethod}`);
  const raw = Buffer.from(await readAll(await zip.openReadStreamPromise(entry, { decodeFileData: false }), limit));
  const data = entry.compressionMethod === 8 ? zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, limit) }) : raw;
  if (data.length !== entry.uncompressedSize) throw new Error(`${data.length} bytes where the archive says ${entry.uncompressedSize}`);
  if (crc32(data) !== entry.crc32 >>> 0) throw new Error("CRC mismatch: the entry is corrupt");
  return data.toString("utf8");
}

/**
 * The OSV records of `file`, one at a time: a zip as OSV publishes per ecosystem (`all.zip`, one
 * `<ID>.json` per advisory; other entries are skipped) read entry by entry through its central
 * directory, so memory holds one record, whatever the archive's size; anything else is read as one
 * JSON record. An entry that cannot be read (bad CRC, unsupported compression, too large) is
 * yielded with its error and the rest still follow; an archive whose directory is unreadable throws.
 */
export async function* osvEntries(file: string, maxEntryBytes = MAX_ENTRY_BYTES): AsyncGenerator<OsvEntry> {
  if (!(await isZip(file))) {
    const text = await readFile(file, "utf8");
    yield { name: file, text };
    return;
  }
  const handle = await open(file, "r");
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(new BlockReader(handle, (await handle.stat()).size), (await handle.stat()).size, { autoClose: true, validateEntrySizes: true });
  } catch (err) {
    await handle.close();
    throw err;
  }
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (name.endsWith("/") || !name.toLowerCase().endsWith(".json")) continue;
      if (entry.uncompressedSize > maxEntryBytes) {
        yield { name, error: `${entry.uncompressedSize} bytes, more than the ${maxEntryBytes} a record may have` };
        continue;
      }
      let text: string;
      try {
        text = await entryText(zip, entry, maxEntryBytes);
      } catch (err) {
        yield { name, error: (err as Error).message };
        continue;
      }
      yield { name, text };
    }
  } finally {
    zip.close();
  }
}

/**
 * Throws a one-line reason when `file` cannot be imported at all: absent, unreadable, a directory,
 * or a zip whose central directory cannot be read. Reads only the directory, not the records.
 */
export async function checkOsvFile(file: string): Promise<void> {
  let zip: boolean;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error(`${file} is not a file`);
    zip = await isZip(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`${file}: no such file`);
    if (code === "EACCES") throw new Error(`${file}: permission denied`);
    throw err;
  }
  if (!zip) return;
  try {
    const archive = await yauzl.openPromise(file, { autoClose: false });
    archive.close();
  } catch (err) {
    throw new Error(`${file}: not a readable zip archive (${(err as Error).message})`);
  }
}
