import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";
import { createLogger, type Logger } from "../../src/logger.js";

/** A logger that keeps every line it is given, parsed. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger({ level: "debug", write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const sha256 = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** A raw connection to `host:port`, collecting what the server sends, with when it closed. */
export interface RawClient {
  socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves with the milliseconds from connecting to the server closing the connection. */
  closed: Promise<number>;
  /** Writes unless the connection is gone; false once it is. */
  write(data: string | Buffer): boolean;
}

export async function rawClient(host: string): Promise<RawClient> {
  const [hostname, port] = host.split(":");
  const socket = connect(Number(port), hostname!);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const started = Date.now();
  let data = "";
  socket.on("data", (chunk: Buffer) => void (data += chunk.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - started)));
  return {
    socket,
    received: () => data,
    closed,
    write: (chunk) => {
      if (socket.destroyed || !socket.writable) return false;
      socket.write(chunk);
      return true;
    },
  };
}

/** Sends `data` a piece at a time, `every` ms apart, until done or the connection is gone; resolves with the bytes sent. */
export async function trickle(client: RawClient, data: Buffer | string, piece: number, every: number): Promise<number> {
  const bytes = Buffer.from(data);
  let sent = 0;
  while (sent < bytes.length) {
    if (!client.write(bytes.subarray(sent, sent + piece))) break;
    sent += Math.min(piece, bytes.length - sent);
    await sleep(every);
  }
  return sent;
}

/** The request line and headers of a raw request with a body of `length` bytes. */
export const requestHead = (method: string, path: string, length: number, extra = "") =>
  `${method} ${path} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n${extra}\r\n`;
