import { recordAccessChange } from "../auth/admin-ops.js";
import { cliLogger } from "./cli-logger.js";
import { readFileSync } from "node:fs";
import { createTokenService } from "../auth/tokens.js";
import type { Config } from "../config/schema.js";
import type { Role, Visibility } from "../storage/auth-store.js";
import { openAuthServices } from "../compose.js";
import { UsageError } from "./usage-error.js";


/**
 * `berth user|token|ns|repo|audit|key …`: managing access control from the command line. Each
 * command opens the same auth store as `berth serve` (it works while the server runs); the
 * changes themselves are auth/admin-ops.ts, shared with the management API. Arguments and flags
 * arrive already checked by program.ts.
 */
export type AdminCommand =
  | "user add" | "user del" | "user passwd" | "user list"
  | "token create" | "token list" | "token revoke"
  | "ns add" | "ns member add" | "ns member del"
  | "repo visibility" | "audit" | "key rotate";

export interface AdminFlags {
  admin?: boolean;
  passwordStdin?: boolean;
  public?: boolean;
  name?: string;
  user?: string;
  scope?: string;
  /** Milliseconds from now. */
  expires?: number;
  owner?: string;
  role?: Role;
  repo?: string;
  action?: string;
  since?: number;
  until?: number;
  limit?: number;
}

function readPasswordFromStdin(): string {
  return readFileSync(0, "utf8").replace(/\r?\n$/, "");
}

function lines(rows: Record<string, unknown>[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");
}

export async function adminCommand(config: Config, command: AdminCommand, args: string[], flags: AdminFlags): Promise<number> {
  const [first = "", second = ""] = args;
  if ((command === "user add" || command === "user passwd") && !flags.passwordStdin) {
    throw new UsageError("give the password on standard input with --password-stdin");
  }
  const auth = await openAuthServices(config, cliLogger);
  const { store } = auth;
  const ops = auth.adminOps({ name: "cli" });
  const out = (text: string) => process.stdout.write(text);
  const owner = flags.user ?? "admin";
  try {
    switch (command) {
      case "user add":
        await ops.addUser(first, readPasswordFromStdin(), flags.admin === true);
        out(`created user ${first}${flags.admin ? " (admin)" : ""}\n`);
        return 0;
      case "user del":
        await ops.deleteUser(first);
        out(`deleted user ${first}\n`);
        return 0;
      case "user passwd":
        await ops.setPassword(first, readPasswordFromStdin());
        out(`changed the password of ${first}; their refresh tokens are revoked\n`);
        return 0;
      case "user list":
        out(lines((await store.listUsers()).map((u) => ({ name: u.name, admin: u.admin, created: new Date(u.createdAt).toISOString() }))));
        return 0;
      case "token create": {
        const expiresAt = flags.expires === undefined ? undefined : Date.now() + flags.expires;
        const scopes = (flags.scope ?? "").split(/\s+/).filter(Boolean);
        const secret = await ops.createToken(owner, flags.name ?? "", scopes, expiresAt);
        out(`${secret}\n`);
        process.stderr.write(`token ${flags.name} of ${owner}: shown once; use it as the password of ${owner} (or of ${flags.name}) in docker login\n`);
        return 0;
      }
      case "token list":
        out(lines((await store.listTokens(flags.user)).map((t) => ({
          name: t.name, owner: t.owner, scopes: t.scopes, expires: t.expiresAt ? new Date(t.expiresAt).toISOString() : null,
          revoked: t.revokedAt !== undefined, lastUsed: t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : null,
        }))));
        return 0;
      case "token revoke":
        await ops.revokeToken(owner, first);
        out(`revoked ${owner}/${first}\n`);
        return 0;
      case "ns add": {
        const visibility = flags.public === true ? "public" : "private";
        await ops.putNamespace(first, visibility, flags.owner);
        out(`namespace ${first} (${visibility})${flags.owner ? ` owned by ${flags.owner}` : ""}\n`);
        return 0;
      }
      case "ns member add":
        await ops.setMember(first, second, flags.role ?? "reader");
        out(`${second} is ${flags.role ?? "reader"} of ${first}\n`);
        return 0;
      case "ns member del":
        await ops.removeMember(first, second);
        out(`${second} removed from ${first}\n`);
        return 0;
      case "repo visibility":
        await ops.setVisibility(first, second as Visibility | "inherit");
        out(`${first}: ${second}\n`);
        return 0;
      case "key rotate": {
        const tokens = createTokenService({ store, issuer: config.auth.issuer, service: config.auth.service, ttlSeconds: config.auth.tokenTtl / 1000, keyCacheMs: 0 });
        const kid = await tokens.rotate();
        await recordAccessChange(auth.events, "cli", { op: "key.rotate", target: kid });
        out(`new signing key ${kid}; tokens signed with the previous key stay valid until they expire\n`);
        return 0;
      }
      case "audit": {
        const events = await store.queryAudit({
          limit: flags.limit ?? 100,
          ...(flags.user ? { actor: flags.user } : {}),
          ...(flags.repo ? { repository: flags.repo } : {}),
          ...(flags.action ? { action: flags.action } : {}),
          ...(flags.since !== undefined ? { since: flags.since } : {}),
          ...(flags.until !== undefined ? { until: flags.until } : {}),
        });
        out(lines(events.map((e) => ({ ...e, time: new Date(e.time).toISOString() }))));
        return 0;
      }
    }
  } finally {
    await auth.close();
  }
}
