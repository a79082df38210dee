import { readFileSync } from "node:fs";
import { newRobotToken } from "../auth/credentials.js";
import { hashSecret } from "../auth/passwords.js";
import { createTokenService } from "../auth/tokens.js";
import type { Config } from "../config/schema.js";
import { isValidName } from "../oci/reference.js";
import type { AuthStore, AuditEvent, Role } from "../storage/auth-store.js";
import { createAuthStore } from "../storage/create-stores.js";
import { parseDuration } from "../config/units.js";

/**
 * `berth user|token|ns|repo|audit|key …`: managing access control from the command line. Each
 * command opens the same auth store as `berth serve` (it works while the server runs) and
 * records what it changed in the audit log.
 */

export class UsageError extends Error {}

const ROLES: Role[] = ["reader", "writer", "maintainer", "owner"];
const USER_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function readPasswordFromStdin(): string {
  const password = readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (password.length < 8) throw new UsageError("the password must have at least 8 characters");
  return password;
}

async function audit(store: AuthStore, event: Omit<AuditEvent, "time" | "source" | "result">): Promise<void> {
  await store.appendAudit({ ...event, time: Date.now(), source: "cli", result: "ok" });
}

function table(rows: Record<string, unknown>[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");
}

export async function adminCommand(config: Config, args: string[], flags: Record<string, string | boolean | undefined>): Promise<number> {
  const [group, action, ...rest] = args;
  const store = await createAuthStore(config);
  const out = (text: string) => process.stdout.write(text);
  try {
    switch (`${group} ${action}`) {
      case "user add": {
        const name = rest[0] ?? "";
        if (!USER_RE.test(name)) throw new UsageError(`invalid user name ${JSON.stringify(name)} (lowercase letters, digits, . _ -)`);
        if (!flags["password-stdin"]) throw new UsageError("give the password on standard input with --password-stdin");
        const created = await store.createUser({ name, passwordHash: await hashSecret(readPasswordFromStdin()), admin: flags.admin === true, createdAt: Date.now() });
        if (!created) throw new UsageError(`user ${name} exists already`);
        await audit(store, { action: "user.add", target: name, detail: { admin: flags.admin === true } });
        out(`created user ${name}${flags.admin ? " (admin)" : ""}\n`);
        return 0;
      }
      case "user del": {
        if (!(await store.deleteUser(rest[0] ?? ""))) throw new UsageError(`no user ${rest[0]}`);
        await audit(store, { action: "user.del", target: rest[0]! });
        out(`deleted user ${rest[0]}\n`);
        return 0;
      }
      case "user passwd": {
        const name = rest[0] ?? "";
        if (!(await store.setPassword(name, await hashSecret(readPasswordFromStdin())))) throw new UsageError(`no user ${name}`);
        await store.revokeRefreshTokens(name, Date.now());
        await audit(store, { action: "user.passwd", target: name });
        out(`changed the password of ${name}; their refresh tokens are revoked\n`);
        return 0;
      }
      case "user list":
        out(table((await store.listUsers()).map((u) => ({ name: u.name, admin: u.admin, created: new Date(u.createdAt).toISOString() }))));
        return 0;
      case "token create": {
        const name = typeof flags.name === "string" ? flags.name : "";
        const owner = typeof flags.user === "string" ? flags.user : "admin";
        if (!USER_RE.test(name)) throw new UsageError("--name NAME is required (lowercase letters, digits, . _ -)");
        if (!(await store.getUser(owner))) throw new UsageError(`no user ${owner} (--user)`);
        const scopes = typeof flags.scope === "string" ? flags.scope.split(/\s+/).filter(Boolean) : [];
        if (scopes.length === 0) throw new UsageError("--scope 'repository:team/*:pull,push' is required");
        let expiresAt: number | undefined;
        if (typeof flags.expires === "string") {
          const ms = parseDuration(flags.expires);
          if (ms === undefined) throw new UsageError(`not a duration: ${flags.expires} (try 30d, 12h)`);
          expiresAt = Date.now() + ms;
        }
        const token = await newRobotToken();
        const created = await store.createToken({
          id: token.id, name, owner, secretHash: token.secretHash, scopes, createdAt: Date.now(), ...(expiresAt ? { expiresAt } : {}),
        });
        if (!created) throw new UsageError(`${owner} has a live token named ${name} already`);
        await audit(store, { action: "token.create", target: `${owner}/${name}`, detail: { scopes, expiresAt } });
        out(`${token.secret}\n`);
        process.stderr.write(`token ${name} for ${owner}: shown once; use it as the password of ${owner} (or of ${name}) in docker login\n`);
        return 0;
      }
      case "token list":
        out(table((await store.listTokens(typeof flags.user === "string" ? flags.user : undefined)).map((t) => ({
          name: t.name, owner: t.owner, scopes: t.scopes, expires: t.expiresAt ? new Date(t.expiresAt).toISOString() : null,
          revoked: t.revokedAt !== undefined, lastUsed: t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : null,
        }))));
        return 0;
      case "token revoke": {
        const owner = typeof flags.user === "string" ? flags.user : "admin";
        if (!(await store.revokeToken(owner, rest[0] ?? "", Date.now()))) throw new UsageError(`no live token ${rest[0]} of ${owner}`);
        await audit(store, { action: "token.revoke", target: `${owner}/${rest[0]}` });
        out(`revoked ${owner}/${rest[0]}\n`);
        return 0;
      }
      case "ns add": {
        const name = rest[0] ?? "";
        if (!isValidName(name) || name.includes("/")) throw new UsageError(`invalid namespace ${JSON.stringify(name)}`);
        const owner = typeof flags.owner === "string" ? flags.owner : undefined;
        if (owner && !(await store.getUser(owner))) throw new UsageError(`no user ${owner}`);
        const visibility = flags.public === true ? "public" : "private";
        await store.putNamespace({ name, visibility, ...(owner ? { owner } : {}), createdAt: Date.now() });
        if (owner) await store.setMember(name, owner, "owner");
        await audit(store, { action: "policy.change", target: name, detail: { namespace: name, owner, visibility } });
        out(`namespace ${name} (${visibility})${owner ? ` owned by ${owner}` : ""}\n`);
        return 0;
      }
      case "ns member": {
        const [op, ns, user] = rest;
        if (!ns || !user || (op !== "add" && op !== "del")) throw new UsageError("berth ns member add|del NS USER [--role ROLE]");
        if (!(await store.getNamespace(ns))) throw new UsageError(`no namespace ${ns} (berth ns add ${ns})`);
        if (op === "del") {
          if (!(await store.removeMember(ns, user))) throw new UsageError(`${user} is not a member of ${ns}`);
        } else {
          const role = (flags.role ?? "reader") as Role;
          if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(", ")}`);
          if (!(await store.getUser(user))) throw new UsageError(`no user ${user}`);
          await store.setMember(ns, user, role);
        }
        await audit(store, { action: "policy.change", target: ns, detail: { member: user, op, role: flags.role ?? "reader" } });
        out(`${op === "add" ? `${user} is ${flags.role ?? "reader"} of` : `${user} removed from`} ${ns}\n`);
        return 0;
      }
      case "repo visibility": {
        const [repo, visibility] = rest;
        if (!repo || !isValidName(repo) || (visibility !== "public" && visibility !== "private" && visibility !== "inherit")) {
          throw new UsageError("berth repo visibility REPO public|private|inherit");
        }
        await store.setRepositoryVisibility(repo, visibility === "inherit" ? undefined : visibility);
        await audit(store, { action: "policy.change", repository: repo, detail: { visibility } });
        out(`${repo}: ${visibility}\n`);
        return 0;
      }
      case "key rotate": {
        const tokens = createTokenService({ store, issuer: config.auth.issuer, service: config.auth.service, ttlSeconds: config.auth.tokenTtl / 1000, keyCacheMs: 0 });
        const kid = await tokens.rotate();
        await audit(store, { action: "key.rotate", target: kid });
        out(`new signing key ${kid}; tokens signed with the previous key stay valid until they expire\n`);
        return 0;
      }
      default:
        if (group === "audit") {
          const num = (v: unknown) => (typeof v === "string" ? Date.parse(v) : undefined);
          const since = num(flags.since);
          const until = num(flags.until);
          const events = await store.queryAudit({
            limit: typeof flags.limit === "string" ? Number(flags.limit) : 100,
            ...(typeof flags.user === "string" ? { actor: flags.user } : {}),
            ...(typeof flags.repo === "string" ? { repository: flags.repo } : {}),
            ...(typeof flags.action === "string" ? { action: flags.action } : {}),
            ...(since !== undefined && !Number.isNaN(since) ? { since } : {}),
            ...(until !== undefined && !Number.isNaN(until) ? { until } : {}),
          });
          out(table(events.map((e) => ({ ...e, time: new Date(e.time).toISOString() }))));
          return 0;
        }
        throw new UsageError(`unknown command: berth ${args.join(" ")}`);
    }
  } finally {
    await store.close();
  }
}
