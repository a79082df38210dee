import { readFileSync } from "node:fs";
import { AdminError, createAdminOps } from "../auth/admin-ops.js";
import { createTokenService } from "../auth/tokens.js";
import type { Config } from "../config/schema.js";
import { parseDuration } from "../config/units.js";
import type { Visibility } from "../storage/auth-store.js";
import { createAuthStore } from "../storage/create-stores.js";

/**
 * `berth user|token|ns|repo|audit|key …`: managing access control from the command line. Each
 * command opens the same auth store as `berth serve` (it works while the server runs); the
 * changes themselves are auth/admin-ops.ts, shared with the management API.
 */

export class UsageError extends Error {}

function readPasswordFromStdin(): string {
  return readFileSync(0, "utf8").replace(/\r?\n$/, "");
}

function lines(rows: Record<string, unknown>[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");
}

type Flags = Record<string, string | boolean | undefined>;
const str = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);

export async function adminCommand(config: Config, args: string[], flags: Flags): Promise<number> {
  const [group, action, ...rest] = args;
  const store = await createAuthStore(config);
  const ops = createAdminOps(store, { name: "cli", source: "cli" });
  const out = (text: string) => process.stdout.write(text);
  const owner = str(flags.user) ?? "admin";
  try {
    switch (`${group} ${action}`) {
      case "user add":
        if (!flags["password-stdin"]) throw new UsageError("give the password on standard input with --password-stdin");
        await ops.addUser(rest[0] ?? "", readPasswordFromStdin(), flags.admin === true);
        out(`created user ${rest[0]}${flags.admin ? " (admin)" : ""}\n`);
        return 0;
      case "user del":
        await ops.deleteUser(rest[0] ?? "");
        out(`deleted user ${rest[0]}\n`);
        return 0;
      case "user passwd":
        await ops.setPassword(rest[0] ?? "", readPasswordFromStdin());
        out(`changed the password of ${rest[0]}; their refresh tokens are revoked\n`);
        return 0;
      case "user list":
        out(lines((await store.listUsers()).map((u) => ({ name: u.name, admin: u.admin, created: new Date(u.createdAt).toISOString() }))));
        return 0;
      case "token create": {
        let expiresAt: number | undefined;
        if (str(flags.expires) !== undefined) {
          const ms = parseDuration(str(flags.expires)!);
          if (ms === undefined) throw new UsageError(`not a duration: ${flags.expires} (try 30d, 12h)`);
          expiresAt = Date.now() + ms;
        }
        const scopes = (str(flags.scope) ?? "").split(/\s+/).filter(Boolean);
        const secret = await ops.createToken(owner, str(flags.name) ?? "", scopes, expiresAt);
        out(`${secret}\n`);
        process.stderr.write(`token ${flags.name} of ${owner}: shown once; use it as the password of ${owner} (or of ${flags.name}) in docker login\n`);
        return 0;
      }
      case "token list":
        out(lines((await store.listTokens(str(flags.user))).map((t) => ({
          name: t.name, owner: t.owner, scopes: t.scopes, expires: t.expiresAt ? new Date(t.expiresAt).toISOString() : null,
          revoked: t.revokedAt !== undefined, lastUsed: t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : null,
        }))));
        return 0;
      case "token revoke":
        await ops.revokeToken(owner, rest[0] ?? "");
        out(`revoked ${owner}/${rest[0]}\n`);
        return 0;
      case "ns add": {
        const visibility = flags.public === true ? "public" : "private";
        await ops.putNamespace(rest[0] ?? "", visibility, str(flags.owner));
        out(`namespace ${rest[0]} (${visibility})${flags.owner ? ` owned by ${flags.owner}` : ""}\n`);
        return 0;
      }
      case "ns member": {
        const [op, ns, user] = rest;
        if (!ns || !user || (op !== "add" && op !== "del")) throw new UsageError("berth ns member add|del NS USER [--role ROLE]");
        if (op === "del") await ops.removeMember(ns, user);
        else await ops.setMember(ns, user, str(flags.role) ?? "reader");
        out(op === "add" ? `${user} is ${str(flags.role) ?? "reader"} of ${ns}\n` : `${user} removed from ${ns}\n`);
        return 0;
      }
      case "repo visibility": {
        const [repo, visibility] = rest;
        if (visibility !== "public" && visibility !== "private" && visibility !== "inherit") {
          throw new UsageError("berth repo visibility REPO public|private|inherit");
        }
        await ops.setVisibility(repo ?? "", visibility as Visibility | "inherit");
        out(`${repo}: ${visibility}\n`);
        return 0;
      }
      case "key rotate": {
        const tokens = createTokenService({ store, issuer: config.auth.issuer, service: config.auth.service, ttlSeconds: config.auth.tokenTtl / 1000, keyCacheMs: 0 });
        const kid = await tokens.rotate();
        await store.appendAudit({ time: Date.now(), actor: "cli", source: "cli", action: "key.rotate", target: kid, result: "ok" });
        out(`new signing key ${kid}; tokens signed with the previous key stay valid until they expire\n`);
        return 0;
      }
      default: {
        if (group !== "audit") throw new UsageError(`unknown command: berth ${args.join(" ")}`);
        const time = (v: string | undefined) => (v === undefined || Number.isNaN(Date.parse(v)) ? undefined : Date.parse(v));
        const since = time(str(flags.since));
        const until = time(str(flags.until));
        const events = await store.queryAudit({
          limit: Number(str(flags.limit) ?? 100),
          ...(str(flags.user) ? { actor: str(flags.user)! } : {}),
          ...(str(flags.repo) ? { repository: str(flags.repo)! } : {}),
          ...(str(flags.action) ? { action: str(flags.action)! } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
        });
        out(lines(events.map((e) => ({ ...e, time: new Date(e.time).toISOString() }))));
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof AdminError) throw new UsageError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}
