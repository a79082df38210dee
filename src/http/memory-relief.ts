import type { Server } from "node:http";
import type { Socket } from "node:net";
import { collectAllGarbage } from "../gc-nudge.js";

/** Open connections that make a burst worth collecting after. */
const BURST = 256;

/**
 * Returns memory after a burst of connections. V8 sizes its heap for the peak and, with the
 * process busy with what remains, runs no collection that would shrink it, so a server that met
 * 2,000 connections stayed near that peak for good. Once a burst (at least BURST connections open
 * at once) has fallen to a quarter of its peak and stayed there `quietMs`, one full collection
 * runs. Returns a function that stops watching.
 */
export function relieveAfterBursts(server: Server, quietMs = 2000): () => void {
  let open = 0;
  let peak = 0;
  let timer: NodeJS.Timeout | undefined;
  const quiet = () => {
    timer = undefined;
    if (open > peak / 4) return;
    peak = open;
    collectAllGarbage();
  };
  server.on("connection", (socket: Socket) => {
    open += 1;
    if (open > peak) peak = open;
    socket.once("close", () => {
      open -= 1;
      if (peak >= BURST && open <= peak / 4 && !timer) {
        timer = setTimeout(quiet, quietMs);
        timer.unref();
      }
    });
  });
  return () => clearTimeout(timer);
}
