import type { FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import yauzl from "yauzl";

/**
 * A zip file read for yauzl through a few cached 1 MiB blocks. yauzl reads each entry with four
 * small reads (its directory record, name, local header, data); on a file of 50,000 records those
 * round trips through the thread pool, not inflating, were most of an import. Entries are read in
 * file order, so nearly every read is served from a block already in memory (at most `blocks`).
 */
export class BlockReader extends yauzl.RandomAccessReader {
  private readonly cache = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
    private readonly blockSize = 1024 * 1024,
    private readonly blocks = 8,
  ) {
    super();
  }

  private block(index: number): Promise<Buffer> {
    let block = this.cache.get(index);
    if (block) {
      this.cache.delete(index);
    } else {
      const start = index * this.blockSize;
      const length = Math.min(this.blockSize, this.size - start);
      block = this.handle.read(Buffer.allocUnsafe(length), 0, length, start).then(({ buffer, bytesRead }) => {
        if (bytesRead !== length) throw new Error(`the file changed while being read (${bytesRead} bytes at ${start}, expected ${length})`);
        return buffer;
      });
      while (this.cache.size >= this.blocks) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(index, block);
    return block;
  }

  private async *range(start: number, end: number): AsyncGenerator<Buffer> {
    for (let at = start; at < end; ) {
      const index = Math.floor(at / this.blockSize);
      const block = await this.block(index);
      const from = at - index * this.blockSize;
      const to = Math.min(block.length, end - index * this.blockSize);
      yield block.subarray(from, to);
      at += to - from;
    }
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return Readable.from(this.range(start, end), { objectMode: false });
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    (async () => {
      let written = 0;
      for await (const chunk of this.range(position, position + length)) written += chunk.copy(buffer, offset + written);
    })().then(() => callback(null), (err: Error) => callback(err));
  }

  override close(callback: (err: Error | null) => void): void {
    this.cache.clear();
    this.handle.close().then(() => callback(null), (err: Error) => callback(err));
  }
}
