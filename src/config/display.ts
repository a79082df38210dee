import { z } from "zod";
import { configSource, redactConfig } from "./load.js";
import { configSchema, duration, size, type Config } from "./schema.js";
import { formatDuration, formatSize } from "./units.js";
import { requestRate, transferRate } from "./limits-schema.js";

/**
 * The configuration as `berth config` prints it: secrets masked, and durations and sizes the way
 * they were written (in the file, the environment or a flag: `600s` stays `600s`), defaults as the
 * schema writes them (`24h`), and a value given as a bare number in the units the file takes
 * (`10m`, `4MiB`). Found by walking the schema, so a setting added later is shown right without a
 * list to keep. The result, saved as a file, loads back to the same configuration (masked secrets
 * aside).
 */
export function displayConfig(config: Config): unknown {
  // `auth.enabled` as written: left out when it was (enabledExplicitly is derived, not a setting),
  // so the output loads back to a registry that still refuses to open up over existing users.
  const redacted = redactConfig(config);
  const { enabledExplicitly, ...auth } = redacted.auth;
  const shown = { ...redacted, auth: enabledExplicitly ? auth : { ...auth, enabled: undefined } };
  return humanize(configSchema, shown, configSource(config));
}

/** `raw` is what was written at the same place of the configuration tree, if anything. */
function humanize(schema: z.ZodTypeAny, value: unknown, raw: unknown): unknown {
  if (value === undefined || value === null) return value;
  if (schema === duration || schema === size) {
    if (typeof value !== "number") return value;
    if (typeof raw === "string" && raw.trim() !== "") return raw.trim();
    return schema === duration ? formatDuration(value) : formatSize(value);
  }
  if (schema === transferRate || schema === requestRate) {
    if (typeof value !== "number") return value;
    if (typeof raw === "string" && raw.trim() !== "") return raw.trim();
    return value === 0 ? 0 : schema === transferRate ? `${formatSize(value)}/s` : `${value}/s`;
  }
  if (schema instanceof z.ZodDefault) {
    return humanize(schema._def.innerType as z.ZodTypeAny, value, raw ?? (schema._def.defaultValue as () => unknown)());
  }
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    return humanize(schema._def.innerType as z.ZodTypeAny, value, raw);
  }
  if (schema instanceof z.ZodEffects) return humanize(schema._def.schema as z.ZodTypeAny, value, raw);
  if (schema instanceof z.ZodUnion) {
    // A union such as `off | duration`: the first branch that formats the value differently wins.
    for (const option of schema._def.options as z.ZodTypeAny[]) {
      const shown = humanize(option, value, raw);
      if (shown !== value) return shown;
    }
    return value;
  }
  if (schema instanceof z.ZodArray && Array.isArray(value)) {
    const rawItems = Array.isArray(raw) ? raw : [];
    return value.map((v: unknown, i) => humanize(schema._def.type as z.ZodTypeAny, v, rawItems[i]));
  }
  if (schema instanceof z.ZodObject && typeof value === "object") {
    const shape = schema.shape as Record<string, z.ZodTypeAny>;
    const rawFields = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape[k] ? humanize(shape[k], v, rawFields[k]) : v]));
  }
  return value;
}
