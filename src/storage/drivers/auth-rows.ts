import type { AuditEvent, AuditFilter, RefreshTokenRecord, TokenRecord, UserRecord } from "../auth-store.js";

/** Columns and row mapping shared by the SQLite and PostgreSQL auth stores (same column names). */

export const USER_COLUMNS = `name, password_hash AS "passwordHash", admin, created_at AS "createdAt"`;
export const TOKEN_COLUMNS = `id, name, owner, secret_hash AS "secretHash", scopes, created_at AS "createdAt",
  expires_at AS "expiresAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;
export const NAMESPACE_COLUMNS = `name, visibility, owner, created_at AS "createdAt"`;
export const REFRESH_COLUMNS = `id, user_name AS "user", client_id AS "clientId", secret_hash AS "secretHash",
  created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt"`;
export const KEY_COLUMNS = `kid, algorithm, private_jwk AS "privateJwk", public_jwk AS "publicJwk",
  created_at AS "createdAt", retired_at AS "retiredAt"`;
export const AUDIT_COLUMNS = "time, actor, action, repository, target, result, source, detail";

export type Row = Record<string, unknown>;

/** The row without its NULL columns, so that absent optional fields stay absent. */
export function present<T>(row: Row): T {
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null)) as T;
}

export const toUser = (row: Row): UserRecord => ({ ...present<UserRecord>(row), admin: row.admin === 1 || row.admin === true });
export const toToken = (row: Row): TokenRecord => ({ ...present<TokenRecord>(row), scopes: JSON.parse(row.scopes as string) });
export const toAudit = (row: Row): AuditEvent => {
  const event = present<AuditEvent>(row);
  if (typeof row.detail === "string") event.detail = JSON.parse(row.detail) as Record<string, unknown>;
  return event;
};

/** The values of a token insert: id, owner, name, secret_hash, scopes, created_at, expires_at, revoked_at, last_used_at. */
export function tokenParams(t: TokenRecord): (string | number | null)[] {
  return [t.id, t.owner, t.name, t.secretHash, JSON.stringify(t.scopes), t.createdAt, t.expiresAt ?? null, t.revokedAt ?? null, t.lastUsedAt ?? null];
}

/** The values of a refresh-token insert: id, user_name, client_id, secret_hash, created_at, expires_at, revoked_at. */
export function refreshParams(t: RefreshTokenRecord): (string | number | null)[] {
  return [t.id, t.user, t.clientId, t.secretHash, t.createdAt, t.expiresAt, t.revokedAt ?? null];
}

/** The values of an audit insert, in AUDIT_COLUMNS order. */
export function auditParams(e: AuditEvent): (string | number | null)[] {
  return [
    e.time,
    e.actor ?? null,
    e.action,
    e.repository ?? null,
    e.target ?? null,
    e.result,
    e.source ?? null,
    e.detail === undefined ? null : JSON.stringify(e.detail),
  ];
}

/**
 * The WHERE clause and values of an audit query; both time bounds are inclusive. `placeholder(n)`
 * writes the n-th parameter (`?` for SQLite, `$n` for PostgreSQL).
 */
export function auditWhere(filter: AuditFilter, placeholder: (n: number) => string): { where: string; values: (string | number)[] } {
  const terms: string[] = [];
  const values: (string | number)[] = [];
  const add = (term: string, value: string | number) => {
    values.push(value);
    terms.push(`${term} ${placeholder(values.length)}`);
  };
  for (const column of ["actor", "repository", "action"] as const) {
    const value = filter[column];
    if (value !== undefined) add(`${column} =`, value);
  }
  if (filter.since !== undefined) add("time >=", filter.since);
  if (filter.until !== undefined) add("time <=", filter.until);
  return { where: terms.length > 0 ? `WHERE ${terms.join(" AND ")}` : "", values };
}
