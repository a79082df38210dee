import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { ConfigError, ENV_KEYS, loadConfig, redactConfig } from "../config/load.js";
import { createLogger } from "../logger.js";
import { createBerth } from "../server.js";
import { gcCommand } from "./gc.js";
import { migrateCommand } from "./migrate.js";
import { usageCommand } from "./usage.js";
import { retentionCommand } from "./retention.js";
import { adminCommand, UsageError } from "./admin.js";
import { CATALOG_COMMANDS, catalogCommand, type CatalogCommandName } from "./catalog-commands.js";

const HELP = `berth — a container image registry

Usage:
  berth serve [options]      start the registry (what \`npm start\` runs)
  berth config [options]     print the effective configuration as JSON (secrets masked) and exit
  berth migrate --from A.yaml --to B.yaml
                             copy a whole registry between two configurations (e.g. embedded to
                             S3 + PostgreSQL, or back), verifying every digest; rerun to resume
  berth gc [--dry-run] [--delete-untagged] [--wait] [--json]
                             garbage-collect unreferenced blobs (and untagged manifests when asked)
                             while servers keep running; --dry-run lists what would go
  berth retention [--dry-run] [--json]
                             apply the retention rules now: delete the tags they do not keep (and
                             untagged manifests when a rule asks); --dry-run lists what would go
  berth usage [NAMESPACE-OR-REPO] [--json]
                             storage usage: registry-wide totals and deduplication savings, or what a
                             namespace or repository references and what deleting it would free, with quotas
  berth --help | --version

Access control (see docs/access-control.md; every command takes --data/--config like serve):
  berth user add NAME [--admin] --password-stdin | user del NAME | user passwd NAME --password-stdin | user list
  berth token create --name NAME --scope 'repository:team/*:pull,push' [--user OWNER] [--expires 30d]
  berth token list [--user OWNER] | token revoke NAME [--user OWNER]
  berth ns add NS [--owner USER] [--public] | ns member add NS USER --role reader|writer|maintainer|owner | ns member del NS USER
  berth repo visibility REPO public|private|inherit
  berth audit [--user U] [--repo R] [--action A] [--since ISO] [--until ISO] [--limit N]
  berth key rotate

What is stored (with or without access control; --json for one JSON object per line):
  berth ns list | ns del NS [--force]         namespaces; del refuses one that holds repositories unless --force
  berth repo list [--namespace NS] | repo delete NAME
  berth tag list NAME | tag delete NAME:TAG   deletions leave blobs to the next \`berth gc\`

Options (serve, config):
  --listen HOST:PORT   address to listen on (default 127.0.0.1:5000; port 0 picks a free one)
  --data DIR           where blobs and the database live (default ./data)
  --config FILE        YAML or JSON configuration file (also BERTH_CONFIG)
  --log-level LEVEL    debug | info | warn | error | silent (default info)
  --tls-cert FILE, --tls-key FILE   serve HTTPS
  --allow-anonymous-push            without access control on a non-loopback address, let anyone push

Precedence: command-line options > environment variables > config file > defaults.
Environment variables (BERTH_S3_ACCESS_KEY, BERTH_S3_SECRET_KEY and BERTH_DATABASE_URL can
also be read from a file named by the same variable with _FILE appended):
${Object.entries(ENV_KEYS)
  .map(([name, key]) => `  ${name.padEnd(28)} ${key}`)
  .join("\n")}

See docs/configuration.md for every setting.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      listen: { type: "string" },
      data: { type: "string" },
      config: { type: "string" },
      "log-level": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "tls-cert": { type: "string" },
      "allow-anonymous-push": { type: "boolean" },
      "tls-key": { type: "string" },
      admin: { type: "boolean" },
      "password-stdin": { type: "boolean" },
      public: { type: "boolean" },
      name: { type: "string" },
      user: { type: "string" },
      scope: { type: "string" },
      expires: { type: "string" },
      owner: { type: "string" },
      role: { type: "string" },
      repo: { type: "string" },
      action: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      limit: { type: "string" },
      "dry-run": { type: "boolean" },
      "delete-untagged": { type: "boolean" },
      wait: { type: "boolean" },
      json: { type: "boolean" },
      force: { type: "boolean" },
      namespace: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    },
  });
}

async function serve(values: ReturnType<typeof parse>["values"]): Promise<void> {
  const config = loadConfig({
    ...(values.config ? { file: values.config } : {}),
    overrides: {
      listen: values.listen,
      data: values.data,
      "log.level": values["log-level"],
      "tls.cert": values["tls-cert"],
      "tls.key": values["tls-key"],
      "auth.allowAnonymousPush": values["allow-anonymous-push"],
    },
  });
  const logger = createLogger({ level: config.log.level });
  // Process warnings (the AWS SDK's Node version notice, say) go to the JSON log, not raw to stderr.
  process.removeAllListeners("warning");
  process.on("warning", (w) => logger.warn("process warning", { name: w.name, warning: w.message }));
  const berth = await createBerth(config, logger);
  const address = await berth.start();
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  // Operators need the address and data directory whatever the level: only `silent` hides them.
  const announce = config.log.level === "silent" ? logger : createLogger({ level: "info" });
  announce.info("berth started", { listen: `http://${host}:${address.port}`, data: config.data, version: version() });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      logger.warn("second signal, exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info("shutting down", { signal });
    berth.stop().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error("shutdown failed", { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`berth: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = positionals[0] ?? (values.help ? "help" : "serve");
  try {
    switch (command) {
      case "help":
        process.stdout.write(HELP);
        return 0;
      case "serve":
        if (values.help) {
          process.stdout.write(HELP);
          return 0;
        }
        await serve(values);
        return -1;
      case "config": {
        const config = loadConfig({
          ...(values.config ? { file: values.config } : {}),
          overrides: { listen: values.listen, data: values.data, "log.level": values["log-level"] },
        });
        process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
        return 0;
      }
      case "migrate":
        return await migrateCommand(values.from, values.to);
      case "gc": {
        const config = loadConfig({ ...(values.config ? { file: values.config } : {}), overrides: { data: values.data } });
        return await gcCommand(config, {
          dryRun: values["dry-run"] ?? false,
          deleteUntagged: values["delete-untagged"] ?? false,
          wait: values.wait ?? false,
          json: values.json ?? false,
        });
      }
      case "retention": {
        const config = loadConfig({ ...(values.config ? { file: values.config } : {}), overrides: { data: values.data } });
        return await retentionCommand(config, { dryRun: values["dry-run"] ?? false, json: values.json ?? false });
      }
      case "usage": {
        const config = loadConfig({ ...(values.config ? { file: values.config } : {}), overrides: { data: values.data } });
        return await usageCommand(config, positionals[1], values.json ?? false);
      }
      case "user":
      case "token":
      case "ns":
      case "repo":
      case "audit":
      case "key":
      case "tag": {
        const config = loadConfig({
          ...(values.config ? { file: values.config } : {}),
          overrides: { data: values.data },
        });
        const sub = positionals.slice(0, 2).join(" ") as CatalogCommandName;
        if (CATALOG_COMMANDS.includes(sub)) {
          const { force, namespace, json } = values;
          return await catalogCommand(config, sub, positionals.slice(2), { ...(force !== undefined ? { force } : {}), ...(namespace !== undefined ? { namespace } : {}), json: json ?? false });
        }
        return await adminCommand(config, positionals, values);
      }
      default:
        process.stderr.write(`berth: unknown command ${command}\n\n${HELP}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`berth: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`berth: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
