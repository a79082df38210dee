import { displayConfig } from "../config/display.js";
import type { Config } from "../config/schema.js";

/** `berth config`: the configuration `serve` would run with, as JSON, secrets masked, durations and sizes in units. */
export async function configCommand(config: Config): Promise<number> {
  process.stdout.write(`${JSON.stringify(displayConfig(config), null, 2)}\n`);
  return 0;
}
