import type { Config } from "../config/schema.js";

/**
 * PLACEHOLDER on branch i11-cli: the real implementation comes from branch i11-admin at merge
 * time. Only the signature is fixed here, so the command line can be wired and compiled.
 */
export async function catalogCommand(
  config: Config,
  command: "ns list" | "ns del" | "repo list" | "repo delete" | "tag list" | "tag delete",
  args: string[],
  flags: { force?: boolean; namespace?: string; json?: boolean },
): Promise<number> {
  void config;
  void command;
  void args;
  void flags;
  throw new Error("catalog commands are not merged yet");
}
