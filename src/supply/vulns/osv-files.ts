import { open, readFile, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import yauzl from "yauzl";

/** One record's text as read from a file, or why it could not be read. */
export type OsvEntry = { name: string; text: string } | { name: string; error: string };

/** Larger entries are refused without being read: the biggest real advisories are a few hundred KiB. */
export const MAX_ENTRY_BYTES = 32 * 1024 * 1024;

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

async function readAll(stream: Readable, limit: number): Promise<string> {
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
  return Buffer.concat(chunks).toString("utf8");
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
  const zip = await yauzl.openPromise(file, { autoClose: true, validateEntrySizes: true });
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
        text = await readAll(await zip.openReadStreamPromise(entry), maxEntryBytes);
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
