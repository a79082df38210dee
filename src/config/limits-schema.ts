import { z } from "zod";
import { duration } from "./primitives.js";
import { parseSize } from "./units.js";

/** A request count per second from `"200/s"`, `"600/m"`, `"10"` (per second), `0` (off). */
export function parseRequestRate(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|m|h))?\s*$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) / { s: 1, m: 60, h: 3600 }[(match[2] ?? "s") as "s" | "m" | "h"];
}

/** Bytes per second: `1KiB/s`, `512` (bytes/s), `0` (off). */
export const transferRate = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const bytes = parseSize(typeof v === "number" ? v : v.trim().replace(/\/s$/i, ""));
  if (bytes === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a transfer rate: ${v} (try 1KiB/s, 0 to turn it off)` });
  return bytes ?? 0;
});

/** Requests per second: `200/s`, `600/m`, `0` (off). */
export const requestRate = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const rate = parseRequestRate(v);
  if (rate === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a request rate: ${v} (try 200/s, 600/m, 0 to turn it off)` });
  return rate ?? 0;
});

/** A duration of at least a second, or 0 (off). */
const timeout = duration.refine((ms) => ms === 0 || ms >= 1000, { message: "at least 1s (0 turns it off)" });

/** `limits`: what protects a node from slow, idle and greedy clients; see docs/configuration.md, "Limits". */
export const limitsSchema = z
  .object({
    /** A client must send its complete request headers within this (408 otherwise). */
    headerTimeout: timeout.default("30s"),
    /** A request body with no byte for this long is cut; so is a response whose reader takes none. */
    idleTimeout: timeout.default("60s"),
    /** A request body, or a response's reader, slower than this over `transferRateWindow` is cut; 0 turns it off. */
    minTransferRate: transferRate.default("1KiB/s"),
    transferRateWindow: duration.refine((ms) => ms >= 1000, { message: "at least 1s" }).default("60s"),
    /** Listening handles on the socket: up to this many new connections are accepted per event-loop turn. */
    acceptHandles: z.number().int().min(1).max(64).default(16),
    /** Open connections per node; those beyond get a bare 429 and are closed. 0: no cap. */
    maxConnections: z.number().int().min(0).default(0),
    /** Upload bodies in flight per node; while at it, new uploads (POST /blobs/uploads/) get 429. 0: no cap. */
    maxUploads: z.number().int().min(0).default(0),
    rate: z
      .object({
        /** Requests per second from one address (token bucket per node); 0 turns it off. */
        perAddress: requestRate.default(0),
        /** Requests per second from one signed-in user; 0 turns it off. */
        perUser: requestRate.default(0),
        /** How many requests above the rate a bucket lets through at once; 0: one second's worth. */
        burst: z.number().int().min(0).default(0),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});
