import { CommanderError, type Command } from "commander";
import { ConfigError } from "../config/load.js";
import { RegistryError } from "../oci/errors.js";
import { berthVersion } from "../version.js";
import { commandPath, createProgram } from "./program.js";
import { UsageError } from "./usage-error.js";


/**
 * A reader that went away (`berth audit | head -1`) ends the command quietly, as SIGPIPE ends
 * other Unix tools: there is nobody left to tell, and a stack trace would only be noise.
 */
function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount("error") > 0) continue;
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}

/**
 * Process warnings (the AWS SDK's multi-line Node version notice on every S3 command, say) as one
 * line each, so a command's stderr stays one line per thing said; `serve` sends them to its log.
 */
function warningsOnOneLine(): void {
  process.removeAllListeners("warning");
  process.on("warning", (w) => process.stderr.write(`warning: ${w.message.replace(/\s+/g, " ").trim()}\n`));
}

const HELP_FLAGS = new Set(["-h", "--help", "-v", "--version"]);

/** `berth` alone, or with only options (`npm start -- --listen …`), is `berth serve`. */
function withDefaultCommand(argv: string[]): string[] {
  if (argv.length === 0) return ["serve"];
  if (argv[0]!.startsWith("-") && !HELP_FLAGS.has(argv[0]!)) return ["serve", ...argv];
  return argv;
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

/** Commander's message as one line, naming the command and where its help is. */
function usageLine(err: CommanderError, failed: Command | undefined): string {
  const path = failed ? commandPath(failed).join(" ") : "";
  let message = err.message.replace(/^error: /, "").replace(/\n\(Did you mean/, " (did you mean").replace(/\s*\n\s*/g, " ");
  if (err.code === "commander.excessArguments" && failed) {
    const stray = failed.args.slice(failed.registeredArguments.length);
    message = `unexpected argument${stray.length > 1 ? "s" : ""} ${stray.map((a) => `'${a}'`).join(" ")}`;
  }
  return `${path ? `${path}: ` : ""}${message} (see berth ${path ? `${path} ` : ""}--help)`;
}

/**
 * Runs the `berth` command line; resolves with the exit code, or -1 while `serve` keeps running.
 * Usage and configuration errors, and requests the registry refuses (a RegistryError with a 4xx
 * status: an unknown user, a password too short): `berth: <message>`, exit 2. Anything else:
 * `berth: <message>`, exit 1, with the stack trace only when BERTH_DEBUG is set.
 */
export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  warningsOnOneLine();
  const { program, result } = createProgram(berthVersion());
  let failed: Command | undefined;
  for (const cmd of allCommands(program)) {
    cmd.configureOutput({ outputError: () => (failed = cmd) });
  }
  try {
    await program.parseAsync(withDefaultCommand(argv), { from: "user" });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      if (err.code !== "commander.help") process.stderr.write(`berth: ${usageLine(err, failed)}\n`);
      return 2;
    }
    const debug = process.env.BERTH_DEBUG !== undefined && process.env.BERTH_DEBUG !== "";
    if (err instanceof ConfigError || err instanceof UsageError || (err instanceof RegistryError && err.status < 500)) {
      // A configuration error lists each bad setting on its own indented line; here they share one.
      process.stderr.write(`berth: ${err.message.replace(/:\n\s+/, ": ").replace(/\n\s*/g, "; ")}\n`);
      // What a store failed with underneath (a driver's error), for whoever debugs it.
      if (debug && err.cause instanceof Error) process.stderr.write(`${err.cause.stack}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(debug && err instanceof Error ? `berth: ${err.stack}\n` : `berth: ${message} (BERTH_DEBUG=1 shows the stack trace)\n`);
    return 1;
  }
}
