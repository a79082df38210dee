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
