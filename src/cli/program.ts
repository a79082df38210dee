import { Argument, Command, Help, InvalidArgumentError, Option } from "commander";
import { ENV_KEYS, loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { parseDuration, parsePositiveInteger } from "../config/units.js";
import type { AdminCommand, AdminFlags } from "./admin.js";
import type { CatalogCommandName } from "./catalog-commands.js";
import type { EventsCommandName, EventsFlags } from "./events.js";
import type { VulndbCommandName } from "./vulndb.js";
import { UsageError } from "./usage-error.js";

/**
 * The whole command line, declared: every subcommand with its own arguments and options, so that
 * `--help` on any of them only prints help, and an unknown flag or a stray argument is refused
 * before anything is opened. Actions load their modules on demand (help stays fast) and call the
 * same factories the tests use. The exit code of the action that ran is left in `result.code`.
 */
export interface BerthProgram {
  program: Command;
  result: { code: number };
}

type Opts = Record<string, string | boolean | number | undefined>;

const ROLES = ["reader", "writer", "maintainer", "owner"] as const;

function positiveInteger(value: string): number {
  const n = parsePositiveInteger(value);
  if (n === undefined) throw new InvalidArgumentError(`expected a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`);
  return n;
}

function instant(value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError("expected a date and time such as 2026-11-01T00:00:00Z");
  return ms;
}

function lifetime(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError("expected a duration such as 30d or 12h");
  return ms;
}

function storeOptions(cmd: Command): Command {
  return cmd
    .option("--data <dir>", "data directory of the registry (default ./data, or BERTH_DATA)")
    .option("--config <file>", "YAML or JSON configuration file (or BERTH_CONFIG)");
}

function serveOptions(cmd: Command): Command {
  return storeOptions(cmd)
    .option("--listen <host:port>", "address to listen on (default 127.0.0.1:5000; port 0 picks a free one)")
    .option("--log-level <level>", "debug | info | warn | error | silent (default info)")
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM; needs --tls-key)")
    .option("--tls-key <file>", "the private key of --tls-cert (PEM)")
    .option("--allow-anonymous-push", "without access control on a non-loopback address, let anyone push")
    .addOption(
      new Option("--auth <on|off>", "access control (auth.enabled); a registry holding users refuses to start unless it is on, or explicitly off").choices(["on", "off"]),
    );
}

const configFrom = (o: Opts): Config =>
  loadConfig({ ...(typeof o.config === "string" ? { file: o.config } : {}), overrides: { data: o.data } });

const serveConfig = (o: Opts): Config =>
  loadConfig({
    ...(typeof o.config === "string" ? { file: o.config } : {}),
    overrides: {
      listen: o.listen,
      data: o.data,
      "log.level": o.logLevel,
      "tls.cert": o.tlsCert,
      "tls.key": o.tlsKey,
      "auth.allowAnonymousPush": o.allowAnonymousPush,
      "auth.enabled": o.auth,
    },
  });

/** `<name>`, `[scope]`, `[command...]`: an argument as a usage line shows it. */
function argumentTerm(a: Argument): string {
  const name = `${a.name()}${a.variadic ? "..." : ""}`;
  return a.required ? `<${name}>` : `[${name}]`;
}

/** The names from the root down, without the root: `["ns", "member", "add"]`. */
export function commandPath(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}

/** Every command that runs something (no subcommands of its own), depth first, in declaration order. */
export function leafCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => (c.commands.length > 0 ? leafCommands(c) : [c]));
}

/** Commands that only group others (`user`, `ns member`, …). */
export function groupCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => (c.commands.length > 0 ? [c, ...groupCommands(c)] : []));
}

export function createProgram(version: string): BerthProgram {
  const result = { code: 0 };
  const program = new Command("berth")
    .description("berth — a container image registry: the OCI Distribution API, embedded storage by default")
    .version(version, "-v, --version", "print the version and exit")
    .helpOption("-h, --help", "show this help and exit")
    .exitOverride()
    .showSuggestionAfterError(true);

  /** Runs `fn` with the parsed arguments and options; its return value is the exit code. */
  const act = (cmd: Command, fn: (args: string[], o: Opts) => Promise<number>) =>
    cmd.action(async (...params: unknown[]) => {
      const self = params[params.length - 1] as Command;
      result.code = await fn(self.processedArgs as string[], self.opts<Opts>());
    });
  const admin = (cmd: Command, command: AdminCommand) =>
    act(storeOptions(cmd), async (args, o) => (await import("./admin.js")).adminCommand(configFrom(o), command, args, o as AdminFlags));
  const catalog = (cmd: Command, command: CatalogCommandName) =>
    act(storeOptions(cmd), async (args, o) =>
      (await import("./catalog-commands.js")).catalogCommand(configFrom(o), command, args, {
        ...(o.force === true ? { force: true } : {}),
        ...(typeof o.namespace === "string" ? { namespace: o.namespace } : {}),
        ...(o.json === true ? { json: true } : {}),
      }),
    );
  /** A command that only groups others: alone or with an unknown name it is a usage error. */
  const group = (parent: Command, name: string, description: string) => {
    const g = parent.command(name).description(description).helpCommand(false).usage("<command> [options]");
    g.argument("[command]").action((sub: string | undefined) => {
      const names = g.commands.map((c) => c.name()).join(", ");
      const path = commandPath(g).join(" ");
      throw new UsageError(`${sub === undefined ? `${path}: missing command` : `${path}: unknown command '${sub}'`}; one of ${names} (berth ${path} --help)`);
    });
    return g;
  };

  act(serveOptions(program.command("serve").description("start the registry (what `npm start` and `berth` alone run)")), async (_a, o) => {
    await (await import("./serve.js")).serve(serveConfig(o), version);
    return -1;
  });
  act(serveOptions(program.command("config").summary("print the effective configuration (secrets masked)").description("print the configuration `serve` would use, as JSON (secrets masked), and exit")), async (_a, o) =>
    (await import("./config-command.js")).configCommand(serveConfig(o)),
  );
  act(
    program
      .command("migrate")
      .summary("copy a whole registry to another configuration, verified")
      .description("copy a whole registry between two configurations (e.g. embedded to S3 + PostgreSQL, or back), verifying every digest; rerun to resume")
      .requiredOption("--from <file>", "configuration file of the source registry")
      .requiredOption("--to <file>", "configuration file of the target registry"),
    async (_a, o) => (await import("./migrate.js")).migrateCommand(o.from as string, o.to as string),
  );
  act(
    storeOptions(program.command("gc").summary("garbage-collect unreferenced blobs, beside running servers").description("garbage-collect unreferenced blobs (and untagged manifests when asked) while servers keep running"))
      .option("--dry-run", "list what would be deleted; delete nothing")
      .option("--delete-untagged", "also delete manifests no tag, index or subject reaches")
      .option("--wait", "wait for a collection already running elsewhere instead of exiting 3")
      .option("--json", "print the whole report as JSON"),
    async (_a, o) =>
      (await import("./gc.js")).gcCommand(configFrom(o), { dryRun: o.dryRun === true, deleteUntagged: o.deleteUntagged === true, wait: o.wait === true, json: o.json === true }),
  );
  act(
    storeOptions(program.command("retention").summary("apply the retention rules now (delete the tags they drop)").description("apply the retention rules now: delete the tags they do not keep (and untagged manifests when a rule asks)"))
      .option("--dry-run", "list what would be deleted and why each kept tag stays; change nothing")
      .option("--json", "print the report as JSON"),
    async (_a, o) => (await import("./retention.js")).retentionCommand(configFrom(o), { dryRun: o.dryRun === true, json: o.json === true }),
  );
  act(
    storeOptions(program.command("usage").summary("storage usage of the registry, a namespace or a repository").description("storage usage: registry-wide totals and deduplication savings, or what a namespace or repository references and what deleting it would free, with quotas"))
      .argument("[scope]", "a namespace or repository; without it, the whole registry")
      .option("--json", "print the report as JSON"),
    async ([scope], o) => (await import("./usage.js")).usageCommand(configFrom(o), scope, o.json === true),
  );

  const access = "Administration (users, tokens, namespaces, repositories, tags; docs/access-control.md):";
  const user = group(program, "user", "manage users").helpGroup(access);
  admin(user.command("add").description("create a user; the password is read from standard input").argument("<name>", "user name")
    .option("--admin", "make the user an administrator").option("--password-stdin", "read the password from standard input (required)"), "user add");
  admin(user.command("del").description("delete a user, their tokens and memberships").argument("<name>", "user name"), "user del");
  admin(user.command("passwd").summary("set a user's password (from standard input)").description("set a user's password from standard input; their refresh tokens are revoked").argument("<name>", "user name")
    .option("--password-stdin", "read the password from standard input (required)"), "user passwd");
  admin(user.command("list").description("list users, one JSON object a line"), "user list");

  const token = group(program, "token", "manage access tokens (for CI and robots)").helpGroup(access);
  admin(token.command("create").description("create a token; the secret is printed once")
    .requiredOption("--name <name>", "token name, unique per owner")
    .requiredOption("--scope <scopes>", "space-separated scopes, e.g. 'repository:team/*:pull,push'")
    .option("--user <owner>", "owner of the token (default admin)")
    .addOption(new Option("--expires <duration>", "lifetime, e.g. 30d or 12h (default: never)").argParser(lifetime)), "token create");
  admin(token.command("list").description("list tokens (never their secrets), one JSON object a line").option("--user <owner>", "only this owner's tokens"), "token list");
  admin(token.command("revoke").description("revoke a token at once").argument("<name>", "token name").option("--user <owner>", "owner of the token (default admin)"), "token revoke");

  const ns = group(program, "ns", "manage namespaces (the first part of a repository name)").helpGroup(access);
  admin(ns.command("add").description("create or update a namespace (private unless --public)").argument("<ns>", "namespace name")
    .option("--owner <user>", "make this user its owner").option("--public", "let anyone pull its repositories"), "ns add");
  catalog(ns.command("list").description("list namespaces").option("--json", "print JSON"), "ns list");
  catalog(ns.command("del").summary("delete a namespace (refused while it holds repositories, unless --force)").description("delete a namespace: its settings, members and visibility; refused while it holds repositories unless --force, which deletes them too")
    .argument("<ns>", "namespace name").option("--force", "also delete every repository in it (tags and manifests; gc reclaims the space)").option("--json", "print what was deleted as JSON"), "ns del");
  const member = group(ns, "member", "manage the members of a namespace");
  admin(member.command("add").description("add a member or change their role").argument("<ns>", "namespace name").argument("<user>", "user name")
    .addOption(new Option("--role <role>", "role in the namespace (default reader)").choices(ROLES)), "ns member add");
  admin(member.command("del").description("remove a member").argument("<ns>", "namespace name").argument("<user>", "user name"), "ns member del");

  const repo = group(program, "repo", "manage repositories").helpGroup(access);
  admin(repo.command("visibility").summary("make a repository public, private or inherit").description("make one repository public or private, or inherit its namespace's visibility").argument("<repo>", "repository name, e.g. team/app")
    .addArgument(new Argument("<visibility>", "public | private | inherit").choices(["public", "private", "inherit"])), "repo visibility");
  catalog(repo.command("list").description("list repositories").option("--namespace <namespace>", "only repositories of this namespace").option("--json", "print JSON"), "repo list");
  catalog(repo.command("delete").summary("delete a repository's tags and manifests").description("delete a repository: its tags and manifests (space is reclaimed by gc); refused when an immutable-tag rule covers a tag of it")
    .argument("<repo>", "repository name, e.g. team/app").option("--json", "print what was deleted as JSON"), "repo delete");

  const tag = group(program, "tag", "list and delete tags").helpGroup(access);
  catalog(tag.command("list").description("list the tags of a repository").argument("<repo>", "repository name, e.g. team/app").option("--json", "print JSON"), "tag list");
  catalog(tag.command("delete").summary("delete one tag").description("delete one tag (its manifest stays until gc removes untagged manifests); refused for an immutable tag")
    .argument("<repo:tag>", "repository and tag, e.g. team/app:v1").option("--json", "print what was deleted as JSON"), "tag delete");

  admin(program.command("audit").description("show the audit log, newest first, one JSON object a line").helpGroup(access)
    .option("--user <user>", "only events by this user")
    .option("--repo <repository>", "only events on this repository")
    .option("--action <action>", "only this action, e.g. push, login, token.create")
    .addOption(new Option("--since <time>", "only events at or after this ISO time").argParser(instant))
    .addOption(new Option("--until <time>", "only events before this ISO time").argParser(instant))
    .addOption(new Option("--limit <n>", "at most this many events (default 100)").argParser(positiveInteger)), "audit");

  const key = group(program, "key", "manage the token signing keys").helpGroup(access);
  admin(key.command("rotate").summary("add a new token signing key").description("add a new signing key; tokens signed with the previous one stay valid until they expire"), "key rotate");

  const notifications = "Webhooks (docs/webhooks.md):";
  const eventsCommand = (cmd: Command, command: EventsCommandName) =>
    act(storeOptions(cmd), async (_a, o) => (await import("./events.js")).eventsCommand(configFrom(o), command, o as EventsFlags));
  const events = group(program, "events", "webhook deliveries: list them, endpoint health, replay").helpGroup(notifications);
  eventsCommand(events.command("list").description("list webhook deliveries by event order, one JSON object a line")
    .option("--endpoint <name>", "only this endpoint's deliveries")
    .option("--failed", "only deliveries parked after their retry window")
    .addOption(new Option("--after <seq>", "only deliveries of events after this seq (paging: the last seq listed)").argParser(positiveInteger))
    .addOption(new Option("--limit <n>", "the deliveries of at most this many events (default 100)").argParser(positiveInteger)), "events list");
  eventsCommand(events.command("endpoints").description("health of each webhook endpoint: backlog, failed, last success and failure, one JSON object a line"), "events endpoints");
  eventsCommand(events.command("replay").summary("deliver past events to an endpoint again").description("make deliveries to an endpoint pending again, as new: of the events since a time, or from one event on (exactly one of --since, --from)")
    .requiredOption("--endpoint <name>", "the endpoint, as configured")
    .addOption(new Option("--since <time>", "events at or after this ISO time").argParser(instant))
    .option("--from <event-id>", "this event and every later one"), "events replay");

  const supply = "Supply chain (docs/supply-chain.md):";
  const vulndbCommand = (cmd: Command, command: VulndbCommandName) =>
    act(storeOptions(cmd).option("--json", "print JSON"), async ([files], o) =>
      (await import("./vulndb.js")).vulndbCommand(configFrom(o), command, (files ?? []) as unknown as string[], { json: o.json === true }),
    );
  const vulndb = group(program, "vulndb", "the offline vulnerability database (OSV exports)").helpGroup(supply);
  vulndbCommand(vulndb.command("import").summary("load OSV all.zip exports (or .json records); re-import updates in place")
    .description("load OSV vulnerability data: the per-ecosystem all.zip exports (Debian, Alpine, Ubuntu, npm, PyPI, Go, …) or single .json records; a re-import updates the database in place, on every node")
    .argument("<file...>", "OSV all.zip exports or .json records"), "vulndb import");
  vulndbCommand(vulndb.command("status").description("per ecosystem: advisories held, when and from which file last imported; the database generation"), "vulndb status");
  act(
    storeOptions(program.command("scan").summary("an image's signatures, SBOM, vulnerabilities and secrets").helpGroup(supply)
      .description("the supply-chain report of a stored image: signature status under the configured policies, its SBOM (generated now when missing), vulnerabilities matched against the imported database, secrets found in its layers and config"))
      .argument("<image>", "NAME:TAG or NAME@DIGEST, e.g. team/app:1.0")
      .option("--json", "print the report as JSON"),
    async ([image], o) => (await import("./scan.js")).scanCommand(configFrom(o), image!, o.json === true),
  );

  // Commander's own `help` command looks one level deep; this one follows the whole path (`help ns member add`).
  program.helpCommand(false);
  act(program.command("help").description("show the help of a command, like COMMAND --help").argument("[command...]", "a command, e.g. ns member add"), async ([words]) => {
    const path = (words ?? []) as unknown as string[];
    let target: Command = program;
    for (const word of path) {
      const next = target.commands.find((c) => c.name() === word);
      if (!next) throw new UsageError(`help: no command 'berth ${path.join(" ")}' (berth --help lists them)`);
      target = next;
    }
    target.outputHelp();
    return 0;
  });

  // Root help lists every runnable command by its full name, grouped as its top-level group is;
  // a group's help lists its own commands by full name.
  const topGroup = (c: Command) => program.commands.find((t) => t.name() === commandPath(c)[0])?.helpGroup() || "Commands:";
  for (const cmd of [program, ...groupCommands(program), ...leafCommands(program)]) {
    cmd.configureHelp({
      ...(cmd === program ? { visibleCommands: (c: Command) => leafCommands(c) } : {}),
      subcommandTerm: (c) => [...commandPath(c), ...(c.commands.length > 0 ? ["<command>"] : c.registeredArguments.map(argumentTerm))].join(" "),
      groupItems<T extends Command | Option>(this: Help, unsorted: T[], visible: T[], getGroup: (item: T) => string): Map<string, T[]> {
        const byGroup = (item: T) => (item instanceof Command ? (cmd === program ? topGroup(item) : "Commands:") : getGroup(item));
        return Help.prototype.groupItems.call<Help, [T[], T[], (item: T) => string], Map<string, T[]>>(this, unsorted, visible, byGroup);
      },
    });
  }
  // `berth gc --data --help` must not run gc on a directory called --help: a value never starts with -.
  for (const cmd of [program, ...groupCommands(program), ...leafCommands(program)]) {
    for (const option of cmd.options.filter((o) => o.required || o.optional)) {
      const parse = option.parseArg;
      option.argParser((value: string, previous: unknown) => {
        if (value.startsWith("-")) throw new InvalidArgumentError(`expected a value, not the flag ${value}`);
        return parse ? parse(value, previous) : value;
      });
    }
  }
  program.addHelpText(
    "after",
    () => `
Options of serve (and config; the other storage commands take --data and --config):
${program.commands.find((c) => c.name() === "serve")!.options.map((o) => `  ${o.flags.padEnd(28)} ${o.description}`).join("\n")}

\`berth\` alone runs \`berth serve\`. \`berth COMMAND --help\` shows a command's arguments and options;
\`berth GROUP --help\` lists a group's commands.

Precedence: command-line options > environment variables > config file > defaults.
Environment variables (BERTH_S3_ACCESS_KEY, BERTH_S3_SECRET_KEY and BERTH_DATABASE_URL can
also be read from a file named by the same variable with _FILE appended):
${Object.entries(ENV_KEYS)
  .map(([name, key], _, all) => `  ${name.padEnd(Math.max(...all.map(([n]) => n.length)))}  ${key}`)
  .join("\n")}

Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 gc found another collection running.
See docs/configuration.md for every setting.`,
  );
  return { program, result };
}
