import { z } from "zod";
import { parseBoolean, parseDuration, parseSize } from "./units.js";

/** Exported so `berth config` can show these settings in their units again (config/display.ts). */
export const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a duration: ${v} (try 30s, 10m, 24h)` });
  return ms ?? 0;
});

export const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const bytes = parseSize(v);
  if (bytes === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a size: ${v} (try 4MiB, 512k)` });
  return bytes ?? 0;
});

export const bool = z.union([z.boolean(), z.string()]).transform((v, ctx) => {
  const b = parseBoolean(v);
  if (b === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a boolean: ${v}` });
  return b ?? false;
});
