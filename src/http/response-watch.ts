import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { judgeProgress, sampleEvery, startProgress, type TransferCut, type TransferLimits, type TransferProgress } from "./transfer-rate.js";

/** When a response reader is cut, and why. */
export type ResponseCut = TransferCut;

/** Watches responses being written; one timer for all of them. */
export interface ResponseWatch {
  /** Watches `res` until it closes (or the returned stop is called). */
  watch(res: ServerResponse): () => void;
  /** Responses watched now. */
  readonly size: number;
}

interface Watched {
  res: ServerResponse;
  socket: Socket;
  base: number;
  progress: TransferProgress;
}

type LibuvSocket = Socket & { _bytesDispatched?: number; _handle?: { writeQueueSize?: number } | null };

/**
 * Bytes the kernel has taken from this socket so far: handed to libuv minus what libuv still
 * queues. The public counters move only when a whole write completes (a MiB at a time for a
 * blob), far too coarse to tell a slow reader from a stalled one.
 */
function accepted(socket: LibuvSocket): number {
  const dispatched = socket._bytesDispatched;
  const queued = socket._handle?.writeQueueSize;
  if (typeof dispatched === "number" && typeof queued === "number") return Math.max(0, dispatched - queued);
  return socket.bytesWritten - socket.writableLength;
}

/** Data waits for the client: queued in the stream or in libuv because the kernel will not take it. */
function backedUp(socket: LibuvSocket): boolean {
  return socket.writableLength > 0 || (socket._handle?.writeQueueSize ?? 0) > 0;
}

/**
 * Cuts responses whose reader takes nothing for `idleTimeout`, or less than `minTransferRate`
 * on average over `transferRateWindow`. Only time the data waits on the client counts: while the
 * server itself is slow to produce (a slow store, a pull-through upstream) the socket has nothing
 * queued and the window starts again.
 */
export function createResponseWatch(
  limits: TransferLimits,
  cut: (res: ServerResponse, how: ResponseCut) => void,
  now: () => number = Date.now,
): ResponseWatch {
  const { idleTimeout, minTransferRate } = limits;
  const watched = new Set<Watched>();
  const tick = sampleEvery(limits);
  let timer: NodeJS.Timeout | undefined;

  const check = (w: Watched, t: number) => judgeProgress(w.progress, limits, t, accepted(w.socket) - w.base, backedUp(w.socket));
  const sweep = () => {
    const t = now();
    for (const w of watched) {
      const how = check(w, t);
      if (!how) continue;
      watched.delete(w);
      cut(w.res, how);
    }
    if (watched.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    watch(res) {
      const socket = res.socket as LibuvSocket | null;
      if ((idleTimeout === 0 && minTransferRate === 0) || !socket) return () => {};
      const t = now();
      const base = accepted(socket);
      const w: Watched = { res, socket, base, progress: startProgress(t, 0) };
      watched.add(w);
      if (!timer) {
        timer = setInterval(sweep, tick);
        timer.unref();
      }
      const stop = () => {
        watched.delete(w);
        res.off("close", stop);
        res.off("finish", stop);
      };
      // `finish`: the last byte went to the kernel; what the client does with it is no longer ours to hold.
      res.once("finish", stop);
      res.once("close", stop);
      return stop;
    },
    get size() {
      return watched.size;
    },
  };
}
