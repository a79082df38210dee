/** Structured JSON logs, one object per line on stdout (stderr for warnings and errors). */

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; defaults to process.stdout / process.stderr. For tests. */
  write?: (line: string, level: LogLevel) => void;
}

export function createLogger({ level, write }: LoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const out =
    write ??
    ((line: string, lvl: LogLevel) => (lvl === "warn" || lvl === "error" ? process.stderr : process.stdout).write(line));
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LOG_LEVELS.indexOf(lvl) < threshold) return;
    out(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`, lvl);
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
  };
}

export const silentLogger: Logger = createLogger({ level: "silent" });
