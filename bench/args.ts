import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * The benches' one argument check, run before anything starts: `-h`/`--help` prints the usage and
 * exits 0; an unknown flag, a flag without its value or a stray argument prints what is wrong and
 * the usage and exits 2. A typo never starts a run of several minutes (or overwrites its results).
 *
 * `flags` names each accepted flag (without `--`) as `value` (takes the next argument) or
 * `switch`; `positionals` allows bare arguments (bench/memory.ts takes sizes).
 */
export function checkBenchArgs(
  usage: string,
  flags: Record<string, "value" | "switch">,
  { positionals = false, argv = process.argv.slice(2) }: { positionals?: boolean; argv?: string[] } = {},
): void {
  const fail = (problem: string): never => {
    process.stderr.write(`${problem}\nusage: ${usage}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") {
      process.stdout.write(`usage: ${usage}\n`);
      process.exit(0);
    }
    if (arg.startsWith("-")) {
      const name = arg.replace(/^--?/, "");
      if (name.includes("=")) fail(`${arg}: write the value after a space (--${name.split("=")[0]} VALUE)`);
      const kind = flags[name];
      if (kind === undefined) fail(`unknown option ${arg}`);
      if (kind === "value") {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith("--")) fail(`${arg} needs a value`);
        i += 1;
      }
    } else if (!positionals) {
      fail(`unexpected argument ${arg}`);
    }
  }
}

/** What {@link parseBenchArgs} returns: a string for each `value` flag given, true for each `switch` given. */
export type BenchArgs<F extends Record<string, "value" | "switch">> = { [K in keyof F]?: F[K] extends "value" ? string : boolean };

/** {@link checkBenchArgs}, then the flags' values, so a bench names its flags once. */
export function parseBenchArgs<F extends Record<string, "value" | "switch">>(usage: string, flags: F): BenchArgs<F> {
  checkBenchArgs(usage, flags);
  const options: ParseArgsConfig["options"] = {};
  for (const [name, kind] of Object.entries(flags)) options[name] = { type: kind === "value" ? "string" : "boolean" };
  return parseArgs({ options }).values as BenchArgs<F>;
}
