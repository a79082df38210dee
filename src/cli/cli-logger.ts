import type { Logger } from "../logger.js";
import type { Origin } from "../registry/events.js";

/** What a command changes is the operator's doing: its events and audit records say `cli`. */
export const CLI: Origin = { actor: "cli" };

const line = (msg: string, fields?: Record<string, unknown>) => {
  const error = fields?.error;
  process.stderr.write(`berth: ${msg}${error !== undefined ? `: ${String(error)}` : ""}\n`);
};

/**
 * What a command says of work it does beside its own output (an audit record that could not be
 * written, an event that could not be recorded): one `berth: …` line on stderr, never on stdout,
 * which may be piped. Debug and info are for the server's log, not a terminal.
 */
export const cliLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: line,
  error: line,
};
