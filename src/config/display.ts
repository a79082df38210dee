import { z } from "zod";
import { redactConfig } from "./load.js";
import { configSchema, duration, size, type Config } from "./schema.js";
import { formatDuration, formatSize } from "./units.js";

/**
 * The configuration as `berth config` prints it: secrets masked, and durations and sizes in the
 * units the configuration file takes (`10m`, `4MiB`), found by walking the schema, so a setting
 * added later is shown right without a list to keep. The result, saved as a file, loads back to
 * the same configuration (masked secrets aside).
 */
export function displayConfig(config: Config): unknown {
  return humanize(configSchema, redactConfig(config));
}

function humanize(schema: z.ZodTypeAny, value: unknown): unknown {
  if (value === undefined || value === null) return value;
  if (schema === duration) return typeof value === "number" ? formatDuration(value) : value;
  if (schema === size) return typeof value === "number" ? formatSize(value) : value;
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    return humanize(schema._def.innerType as z.ZodTypeAny, value);
  }
  if (schema instanceof z.ZodEffects) return humanize(schema._def.schema as z.ZodTypeAny, value);
  if (schema instanceof z.ZodUnion) {
    // A union such as `off | duration`: the first branch that formats the value differently wins.
    for (const option of schema._def.options as z.ZodTypeAny[]) {
      const shown = humanize(option, value);
      if (shown !== value) return shown;
    }
    return value;
  }
  if (schema instanceof z.ZodArray && Array.isArray(value)) return value.map((v: unknown) => humanize(schema._def.type as z.ZodTypeAny, v));
  if (schema instanceof z.ZodObject && typeof value === "object") {
    const shape = schema.shape as Record<string, z.ZodTypeAny>;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape[k] ? humanize(shape[k], v) : v]));
  }
  return value;
}
