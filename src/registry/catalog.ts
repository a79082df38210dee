import type { Digest } from "../oci/digest.js";
import { RegistryError } from "../oci/errors.js";
import { isValidName, parseTag } from "../oci/reference.js";
import { createTagRules, immutableDeleteError, type TagRule } from "../oci/tag-rules.js";
import type { AuthStore, Visibility } from "../storage/auth-store.js";
import type { MetadataStore, RepositorySummary } from "../storage/metadata-store.js";
import { eachItem, listAll } from "./paging.js";
import { namespaceOf } from "./quotas.js";
import type { EventLog, Origin } from "./events.js";

/**
 * The operator's view of what is stored, and whole deletions: namespaces, repositories and tags
 * (`berth ns|repo|tag …` and `/api/v1/namespaces|repositories`). A namespace is a repository's
 * first path segment; it exists when a repository lives in it or access control declares it.
 *
 * Deletions follow the tag rules (an immutable tag refuses them) but not `delete.enabled`, which
 * governs clients of /v2/: these are the operator's own. They remove metadata only; the blobs no
 * repository uses any more are reclaimed by the next garbage collection. Each change is an event
 * (`repository.deleted`, `namespace.deleted`, `tag.deleted`) recorded with it.
 */
export interface Catalog {
  /** Every namespace, declared or only used by repositories, by name (byte-wise). */
  listNamespaces(): Promise<NamespaceEntry[]>;
  /**
   * Deletes every repository of `ns` (each as deleteRepository does) and then its access-control
   * records. Without `force` a namespace holding repositories is refused with 409 CONFLICT and
   * nothing changes; an immutable tag in any of them refuses the whole deletion before anything goes.
   */
  deleteNamespace(ns: string, options?: { force?: boolean }): Promise<NamespaceDeletion>;
  /** Repositories with their tag and manifest counts (and visibility with access control), by name. */
  listRepositories(options?: { namespace?: string }): Promise<RepositoryEntry[]>;
  /**
   * The same, one at a time, read from the store a page at a time (so a listing of any size holds
   * one page in memory), starting after the name `after` when given.
   */
  eachRepository(options?: { namespace?: string; after?: string }): AsyncGenerator<RepositoryEntry>;
  /** Deletes the repository's tags, manifests and blob links, and its visibility override. */
  deleteRepository(name: string): Promise<RepositoryDeletion>;
  /** The repository's tags with the manifest each names, and the rule that makes it immutable, if one does. */
  listTags(name: string): Promise<TagEntry[]>;
  /** Deletes one tag; its manifest stays (untagged: garbage collection may take it, if told to). */
  deleteTag(name: string, tag: string): Promise<TagDeletion>;
}

export interface NamespaceEntry {
  name: string;
  /** Repositories stored in it. */
  repositories: number;
  /** Whether access control has a record of it (`berth ns add`); the fields below come from that record. */
  declared: boolean;
  visibility?: Visibility;
  owner?: string;
  members?: number;
  /** When it was declared (epoch ms). */
  createdAt?: number;
}

export interface RepositoryEntry extends RepositorySummary {
  /** Who may pull it without a role: its own setting, else its namespace's, else the default. With access control only. */
  visibility?: Visibility;
}

export interface TagEntry {
  tag: string;
  digest: Digest;
  immutable?: string;
}

export interface RepositoryDeletion {
  repository: string;
  tags: number;
  manifests: number;
  links: number;
}

export interface NamespaceDeletion {
  namespace: string;
  repositories: RepositoryDeletion[];
  /** Whether access-control records (namespace, members, visibility overrides) were deleted. */
  accessControl: boolean;
}

export interface TagDeletion {
  repository: string;
  tag: string;
  digest: Digest;
}

export interface CatalogOptions {
  /** The registry's event log: every deletion is recorded through it. */
  events: EventLog;
  /** Who deletes (the events' actor and request). */
  origin?: Origin;
  tagRules?: readonly TagRule[];
  /** Access control's store, when it is on: namespaces, visibility, and records to delete with a namespace. */
  access?: { store: AuthStore; defaultVisibility: Visibility };
}

const nameUnknown = (what: string, name: string) =>
  new RegistryError("NAME_UNKNOWN", `no ${what} named ${name}`, what === "namespace" ? { namespace: name } : { name });

function parseName(name: string): string {
  if (!isValidName(name)) throw new RegistryError("NAME_INVALID", `invalid repository name ${JSON.stringify(name)}`, { name });
  return name;
}

function parseNamespace(ns: string): string {
  if (!isValidName(ns) || ns.includes("/")) throw new RegistryError("NAME_INVALID", `invalid namespace ${JSON.stringify(ns)}`, { namespace: ns });
  return ns;
}

/** Repositories read from the store at a time by the listings. */
const PAGE = 1000;

const byName = (a: { name: string }, b: { name: string }) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));

export function createCatalog(metadata: MetadataStore, { events, origin, tagRules = [], access }: CatalogOptions): Catalog {
  const rules = createTagRules(tagRules);
  const summaries = (namespace?: string) => listAll((page) => metadata.listRepositorySummaries(page, namespace), (r) => r.name);

  async function* eachRepository({ namespace, after }: { namespace?: string; after?: string } = {}): AsyncGenerator<RepositoryEntry> {
    if (namespace !== undefined) parseNamespace(namespace);
    let visibility: ((name: string) => Visibility) | undefined;
    if (access) {
      const overrides = new Map((await access.store.listRepositoryVisibilities()).map((v) => [v.repository, v.visibility]));
      const namespaces = new Map((await access.store.listNamespaces()).map((n) => [n.name, n.visibility]));
      visibility = (name) => overrides.get(name) ?? namespaces.get(namespaceOf(name)) ?? access.defaultVisibility;
    }
    let last = after;
    for (;;) {
      const page = await metadata.listRepositorySummaries({ limit: PAGE, ...(last !== undefined ? { last } : {}) }, namespace);
      for (const r of page) yield visibility ? { ...r, visibility: visibility(r.name) } : r;
      if (page.length < PAGE) return;
      last = page[page.length - 1]!.name;
    }
  }

  async function deleteRepository(name: string): Promise<RepositoryDeletion> {
    parseName(name);
    let refusedBy: string | undefined;
    const change = events.event("repository.deleted", { repository: name }, origin);
    const result = await metadata.deleteRepository(name, {
      isProtected: (tag) => (refusedBy = rules.immutableRule(name, tag)) !== undefined,
      events: events.forStore([change]),
    });
    if (!result.ok && "missing" in result) throw nameUnknown("repository", name);
    if (!result.ok) {
      throw new RegistryError(
        "DENIED",
        `repository ${name} holds tag "${result.protectedTag}", which is immutable under tag rule "${refusedBy}": the repository cannot be deleted`,
        { repository: name, tag: result.protectedTag, rule: refusedBy },
      );
    }
    // A stale override would apply to a new repository pushed under the same name later.
    await access?.store.setRepositoryVisibility(name, undefined);
    const deletion = { repository: name, tags: result.tags, manifests: result.manifests, links: result.links };
    // The counts are known only once deleted: the stored event lacks them, the published one has them.
    await events.published([{ ...change, detail: { tags: result.tags, manifests: result.manifests, links: result.links } }]);
    return deletion;
  }

  async function firstImmutable(repo: string): Promise<{ tag: string; rule: string } | undefined> {
    if (rules.empty) return undefined;
    for await (const { tag } of eachItem((page) => metadata.listTagDigests(repo, page), (t) => t.tag)) {
      const rule = rules.immutableRule(repo, tag);
      if (rule) return { tag, rule };
    }
    return undefined;
  }

  return {
    async listNamespaces() {
      const counts = new Map<string, number>();
      for await (const repo of eachItem((page) => metadata.listRepositories(page), (r) => r)) {
        const ns = namespaceOf(repo);
        counts.set(ns, (counts.get(ns) ?? 0) + 1);
      }
      const entries = new Map<string, NamespaceEntry>();
      for (const [name, repositories] of counts) entries.set(name, { name, repositories, declared: false });
      for (const ns of access ? await access.store.listNamespaces() : []) {
        entries.set(ns.name, {
          name: ns.name,
          repositories: counts.get(ns.name) ?? 0,
          declared: true,
          visibility: ns.visibility,
          ...(ns.owner !== undefined ? { owner: ns.owner } : {}),
          members: (await access!.store.listMembers(ns.name)).length,
          createdAt: ns.createdAt,
        });
      }
      return [...entries.values()].sort(byName);
    },

    async deleteNamespace(ns, { force = false } = {}) {
      parseNamespace(ns);
      const repos = await summaries(ns);
      if (repos.length > 0 && !force) {
        throw new RegistryError(
          "CONFLICT",
          `namespace ${ns} holds ${repos.length} ${repos.length === 1 ? "repository" : "repositories"}; delete them first, or force the deletion to delete them too`,
          { namespace: ns, repositories: repos.length },
        );
      }
      // Checked for every repository before any goes, so a refusal leaves the namespace whole.
      for (const repo of repos) {
        const found = await firstImmutable(repo.name);
        if (found) {
          throw new RegistryError(
            "DENIED",
            `namespace ${ns} holds ${repo.name}:${found.tag}, which is immutable under tag rule "${found.rule}": the namespace cannot be deleted`,
            { namespace: ns, repository: repo.name, tag: found.tag, rule: found.rule },
          );
        }
      }
      const deleted: RepositoryDeletion[] = [];
      for (const repo of repos) {
        try {
          deleted.push(await deleteRepository(repo.name));
        } catch (err) {
          // Deleted meanwhile by someone else: what we wanted.
          if (!(err instanceof RegistryError && err.code === "NAME_UNKNOWN")) throw err;
        }
      }
      const accessControl = access ? await access.store.deleteNamespace(ns) : false;
      // deleteNamespace answers whether there were records: a declared namespace always has one.
      if (repos.length === 0 && !accessControl) throw nameUnknown("namespace", ns);
      await events.emit([events.event("namespace.deleted", { detail: { namespace: ns, force, repositories: deleted.map((d) => d.repository), accessControl } }, origin)]);
      return { namespace: ns, repositories: deleted, accessControl };
    },

    async listRepositories(options = {}) {
      const out: RepositoryEntry[] = [];
      for await (const r of eachRepository(options)) out.push(r);
      return out;
    },

    eachRepository,

    deleteRepository,

    async listTags(name) {
      parseName(name);
      if (!(await metadata.repositoryExists(name))) throw nameUnknown("repository", name);
      const tags = await listAll((page) => metadata.listTagDigests(name, page), (t) => t.tag);
      return tags.map(({ tag, digest }) => {
        const rule = rules.immutableRule(name, tag);
        return { tag, digest, ...(rule ? { immutable: rule } : {}) };
      });
    },

    async deleteTag(name, tag) {
      parseName(name);
      parseTag(tag);
      // Deleted only while it still names the manifest read, so the audit records the right digest.
      for (let attempt = 0; attempt < 3; attempt++) {
        const current = await metadata.getManifestByTag(name, tag);
        if (!current) {
          if (!(await metadata.repositoryExists(name))) throw nameUnknown("repository", name);
          throw new RegistryError("MANIFEST_UNKNOWN", `no tag ${tag} in ${name}`, { tag });
        }
        const rule = rules.immutableRule(name, tag);
        if (rule) throw immutableDeleteError(tag, rule);
        const change = events.event("tag.deleted", { repository: name, target: { tag, digest: current.digest } }, origin);
        if (await metadata.deleteTagIf(name, tag, current.digest, events.forStore([change]))) {
          await events.published([change]);
          return { repository: name, tag, digest: current.digest };
        }
      }
      throw new RegistryError("CONFLICT", `tag ${tag} of ${name} keeps moving; try again`, { tag });
    },
  };
}
