import type { Config } from "../config/schema.js";
import { CLI } from "./cli-logger.js";
import { cliLogger } from "./cli-logger.js";
import { RegistryError } from "../oci/errors.js";
import { createCatalog, type RepositoryDeletion } from "../registry/catalog.js";
import { openBerthServices } from "../compose.js";
import { UsageError } from "./usage-error.js";

export type CatalogCommandName = "ns list" | "ns del" | "repo list" | "repo delete" | "tag list" | "tag delete";

/** Fixed-width columns, left-aligned. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const deletedText = (d: RepositoryDeletion) => `${d.repository}: ${plural(d.tags, "tag")}, ${plural(d.manifests, "manifest")}`;

/**
 * `berth ns list | ns del NS [--force] | repo list [--namespace NS] | repo delete NAME |
 * tag list NAME | tag delete NAME:TAG`, each with `--json` for one JSON object per line. They open
 * the stores `config` names (they work while servers run) and call registry/catalog.ts, which
 * the `/api/v1` endpoints share. With access control on, listings show visibility and every
 * change is appended to the audit log as actor `cli`. Arguments and flags arrive checked by
 * program.ts. Refusals (unknown name, immutable tag, a namespace that holds repositories without
 * --force) throw UsageError: one line, exit 2.
 */
export async function catalogCommand(
  config: Config,
  command: CatalogCommandName,
  args: string[],
  flags: { force?: boolean; namespace?: string; json?: boolean },
): Promise<number> {
  let tagRef: { name: string; tag: string } | undefined;
  if (command === "tag delete") {
    const at = args[0]!.lastIndexOf(":");
    if (at <= 0 || at === args[0]!.length - 1) throw new UsageError("give the tag as NAME:TAG, e.g. team/app:1.0");
    tagRef = { name: args[0]!.slice(0, at), tag: args[0]!.slice(at + 1) };
  }

  // The registry's own access-control data decides, not this invocation's flags: a namespace
  // declared with `berth ns add` is listed, and a deletion audited, whether or not --auth was given.
  const services = await openBerthServices(config, { auth: "existing", logger: cliLogger });
  const { registry, authStore } = services;
  const catalog = createCatalog(registry.stores.metadataStore, {
    events: registry.events,
    origin: CLI,
    tagRules: registry.options.tagRules,
    ...(authStore ? { access: { store: authStore, defaultVisibility: config.auth.defaultVisibility } } : {}),
  });
  const out = (text: string) => void process.stdout.write(text);
  const rows = (items: object[], render: () => string) => {
    if (flags.json) out(items.map((i) => `${JSON.stringify(i)}\n`).join(""));
    else if (items.length > 0) out(render());
  };
  try {
    switch (command) {
      case "ns list": {
        const list = await catalog.listNamespaces();
        rows(list, () => table([
          ["NAMESPACE", "REPOSITORIES", "VISIBILITY", "OWNER", "MEMBERS"],
          ...list.map((n) => [n.name, String(n.repositories), n.visibility ?? "-", n.owner ?? "-", n.members === undefined ? "-" : String(n.members)]),
        ]));
        if (list.length === 0 && !flags.json) process.stderr.write("no namespaces\n");
        return 0;
      }
      case "ns del": {
        const done = await catalog.deleteNamespace(args[0]!, { force: flags.force === true });
        if (flags.json) return out(`${JSON.stringify(done)}\n`), 0;
        out(`deleted namespace ${done.namespace}: ${done.repositories.length} ${done.repositories.length === 1 ? "repository" : "repositories"}${done.accessControl ? " and its access-control records" : ""}\n`);
        for (const d of done.repositories) out(`  ${deletedText(d)}\n`);
        if (done.repositories.length > 0) out("their blobs are reclaimed by the next garbage collection (berth gc)\n");
        return 0;
      }
      case "repo list": {
        const list = await catalog.listRepositories(flags.namespace !== undefined ? { namespace: flags.namespace } : {});
        const withVisibility = authStore !== undefined;
        rows(list, () => table([
          ["REPOSITORY", "TAGS", "MANIFESTS", ...(withVisibility ? ["VISIBILITY"] : [])],
          ...list.map((r) => [r.name, String(r.tags), String(r.manifests), ...(withVisibility ? [r.visibility ?? "-"] : [])]),
        ]));
        if (list.length === 0 && !flags.json) process.stderr.write(`no repositories${flags.namespace !== undefined ? ` in namespace ${flags.namespace}` : ""}\n`);
        return 0;
      }
      case "repo delete": {
        const done = await catalog.deleteRepository(args[0]!);
        if (flags.json) return out(`${JSON.stringify(done)}\n`), 0;
        out(`deleted repository ${deletedText(done)}; its blobs are reclaimed by the next garbage collection (berth gc)\n`);
        return 0;
      }
      case "tag list": {
        const list = await catalog.listTags(args[0]!);
        rows(list, () => table([["TAG", "DIGEST", "IMMUTABLE"], ...list.map((t) => [t.tag, t.digest, t.immutable ?? "-"])]));
        if (list.length === 0 && !flags.json) process.stderr.write(`${args[0]} has no tags\n`);
        return 0;
      }
      case "tag delete": {
        const done = await catalog.deleteTag(tagRef!.name, tagRef!.tag);
        if (flags.json) return out(`${JSON.stringify(done)}\n`), 0;
        out(`deleted tag ${done.repository}:${done.tag} (it named ${done.digest}; the manifest stays)\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command: berth ${command satisfies never}`);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw new UsageError(`${command}: ${err.message}`);
    throw err;
  } finally {
    await services.close();
  }
}
