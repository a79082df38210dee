import { spawn } from "node:child_process";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Server } from "node:http";
import type { Logger } from "../logger.js";

/** Extra listening handles on a server's socket; see `addAcceptHandles`. */
export interface AcceptHandles {
  /** How many were added (0 when asked for none, or when they could not be had). */
  readonly count: number;
  /** Stops accepting on them and resolves once every connection they accepted has closed. */
  close(): Promise<void>;
}

// Sends each handle straight back; the received copy is closed at once, so the child never accepts.
const ECHO = "process.on('message', (m, h) => process.send(m, h, () => { h.close(); if (m === 'last') process.disconnect(); }))";

/**
 * Gives a listening `server` `count` more handles on the same socket, each feeding `server`.
 *
 * Node 20's libuv accepts one connection per turn of the event loop on a listening handle. Under
 * load a turn takes hundreds of milliseconds (every busy socket is served once per turn), so new
 * clients wait in the kernel's accept queue: the storm measured 4 accepts a second and pushes
 * timing out after 30 s (docs/performance.md, "Under load"). Each extra handle accepts one more per
 * turn. Node 20 has neither `reusePort` nor `dup()`: a new descriptor of the socket comes from
 * sending the handle to a short-lived child process and back (each pass over IPC is a dup).
 * Failing that, the server keeps its one handle and a warning says so.
 */
export async function addAcceptHandles(server: Server, count: number, logger: Logger, timeoutMs = 10_000): Promise<AcceptHandles> {
  const extras: NetServer[] = [];
  const open = new Set<Socket>();
  let drained: (() => void) | undefined;
  const deliver = (socket: Socket) => {
    open.add(socket);
    socket.once("close", () => {
      open.delete(socket);
      if (open.size === 0) drained?.();
    });
    server.emit("connection", socket);
  };
  const handle = (server as unknown as { _handle?: object })._handle;
  if (count > 0 && handle) {
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ["-e", ECHO], { stdio: ["ignore", "ignore", "ignore", "ipc"], env: {} });
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`no handles back in ${timeoutMs} ms`));
        }, timeoutMs);
        child.once("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.on("message", (_m, received) => {
          const extra = createNetServer(deliver);
          extra.on("error", (err) => logger.warn("extra accept handle failed", { error: err.message }));
          extra.listen(received as never);
          extras.push(extra);
          if (extras.length === count) {
            clearTimeout(timer);
            resolve();
          }
        });
        for (let i = 0; i < count; i++) child.send(i === count - 1 ? "last" : "next", handle as never);
      });
    } catch (err) {
      logger.warn("accepting one connection per event-loop turn: could not add accept handles", { error: (err as Error).message, added: extras.length });
    }
  }
  return {
    count: extras.length,
    async close() {
      for (const extra of extras) extra.close();
      if (open.size > 0) await new Promise<void>((resolve) => (drained = resolve));
    },
  };
}
