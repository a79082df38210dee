/** How far a transfer (a request body, or a response) has got, sampled over time. */
export interface TransferProgress {
  lastBytes: number;
  lastProgressAt: number;
  samples: { at: number; bytes: number }[];
}

/** Why a transfer is cut. */
export interface TransferCut {
  reason: "idle" | "below minimum transfer rate";
  bytes: number;
  bytesPerSecond: number;
}

export type TransferLimits = { idleTimeout: number; minTransferRate: number; transferRateWindow: number };

export const startProgress = (t: number, bytes: number): TransferProgress => ({ lastBytes: bytes, lastProgressAt: t, samples: [{ at: t, bytes }] });

/** How often to sample: a tenth of the shortest bound, between 100 ms and 1 s. */
export function sampleEvery({ idleTimeout, minTransferRate, transferRateWindow }: TransferLimits): number {
  return Math.max(100, Math.min(1000, Math.min(idleTimeout || Infinity, minTransferRate ? transferRateWindow : Infinity) / 10));
}

/**
 * Records `bytes` at time `t` and says whether the transfer is to be cut: nothing for
 * `idleTimeout`, or less than `minTransferRate` on average over `transferRateWindow`. When the
 * other side is not to blame (`clientsTurn` false: the server holds the bytes back), the window
 * starts again.
 */
export function judgeProgress(p: TransferProgress, limits: TransferLimits, t: number, bytes: number, clientsTurn: boolean): TransferCut | undefined {
  const { idleTimeout, minTransferRate, transferRateWindow } = limits;
  if (!clientsTurn) {
    p.samples.splice(0, p.samples.length, { at: t, bytes });
    p.lastBytes = bytes;
    p.lastProgressAt = t;
    return undefined;
  }
  if (bytes !== p.lastBytes) {
    p.lastBytes = bytes;
    p.lastProgressAt = t;
  }
  p.samples.push({ at: t, bytes });
  while (p.samples.length > 2 && p.samples[1]!.at <= t - transferRateWindow) p.samples.shift();
  if (idleTimeout > 0 && t - p.lastProgressAt >= idleTimeout) return { reason: "idle", bytes, bytesPerSecond: 0 };
  const first = p.samples[0]!;
  if (minTransferRate > 0 && t - first.at >= transferRateWindow) {
    const bytesPerSecond = ((bytes - first.bytes) * 1000) / (t - first.at);
    if (bytesPerSecond < minTransferRate) return { reason: "below minimum transfer rate", bytes, bytesPerSecond };
  }
  return undefined;
}
