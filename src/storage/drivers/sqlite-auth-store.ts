import type Database from "better-sqlite3";
import { openSqlite, sqliteUnavailable } from "./sqlite-open.js";
import { guardStore } from "../unavailable.js";
import type {
  AuditEvent,
  AuthStore,
  NamespaceRecord,
  RefreshTokenRecord,
  Role,
  SigningKeyRecord,
  Visibility,
} from "../auth-store.js";
import { SQLITE_AUTH_MIGRATIONS } from "./sqlite-auth-schema.js";

import { AUDIT_COLUMNS, auditParams, auditWhere, KEY_COLUMNS, NAMESPACE_COLUMNS, REFRESH_COLUMNS, TOKEN_COLUMNS, USER_COLUMNS, present, refreshParams, tokenParams, toAudit, toToken, toUser, type Row } from "./auth-rows.js";

export interface SqliteAuthStoreOptions {
  /** Database file, apart from the metadata database (`<data>/auth.db`); `:memory:` for a throwaway store. */
  path: string;
  /** Sync the WAL on every commit (default true); off survives a process crash but not power loss. */
  fsync?: boolean;
  /** Create the file and its schema when absent (default false: a missing file is a StoreMissingError). */
  create?: boolean;
}



/**
 * An AuthStore in its own SQLite file, for a single Berth node. Every method is one statement
 * (deleting a user cascades through foreign keys) or, for importAudit, one transaction, so each
 * is atomic. A token's owner, a member
 * and a refresh token's user must be existing users, and a member's namespace an existing
 * namespace: the methods writing them throw otherwise. Token names are unique per owner among
 * tokens not revoked. Audit queries bound `time` inclusively at both ends.
 */
export function createSqliteAuthStore(options: SqliteAuthStoreOptions): AuthStore {
  const db = openSqlite(options.path, options.fsync, SQLITE_AUTH_MIGRATIONS, "auth database", options.create, true);

  const q = {
    insertUser: db.prepare(
      "INSERT INTO users (name, password_hash, admin, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
    ),
    getUser: db.prepare<[string], Row>(`SELECT ${USER_COLUMNS} FROM users WHERE name = ?`),
    listUsers: db.prepare<[], Row>(`SELECT ${USER_COLUMNS} FROM users ORDER BY name`),
    deleteUser: db.prepare("DELETE FROM users WHERE name = ?"),
    setPassword: db.prepare("UPDATE users SET password_hash = ? WHERE name = ?"),
    insertToken: db.prepare(
      `INSERT INTO tokens (id, owner, name, secret_hash, scopes, created_at, expires_at, revoked_at, last_used_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (owner, name) WHERE revoked_at IS NULL DO NOTHING`,
    ),
    getToken: db.prepare<[string], Row>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE id = ?`),
    listTokens: db.prepare<[], Row>(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY owner, name, created_at, id`),
    listOwnerTokens: db.prepare<[string], Row>(
      `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE owner = ? ORDER BY name, created_at, id`,
    ),
    revokeToken: db.prepare("UPDATE tokens SET revoked_at = ? WHERE owner = ? AND name = ? AND revoked_at IS NULL"),
    touchToken: db.prepare(
      "UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
    ),
    putNamespace: db.prepare(
      `INSERT INTO namespaces (name, visibility, owner, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET visibility = excluded.visibility, owner = excluded.owner`,
    ),
    getNamespace: db.prepare<[string], Row>(`SELECT ${NAMESPACE_COLUMNS} FROM namespaces WHERE name = ?`),
    listNamespaces: db.prepare<[], Row>(`SELECT ${NAMESPACE_COLUMNS} FROM namespaces ORDER BY name`),
    setMember: db.prepare(
      `INSERT INTO members (namespace, user_name, role) VALUES (?, ?, ?)
       ON CONFLICT (namespace, user_name) DO UPDATE SET role = excluded.role`,
    ),
    removeMember: db.prepare("DELETE FROM members WHERE namespace = ? AND user_name = ?"),
    listMembers: db.prepare<[string], { user: string; role: Role }>(
      `SELECT user_name AS "user", role FROM members WHERE namespace = ? ORDER BY user_name`,
    ),
    rolesOf: db.prepare<[string], { namespace: string; role: Role }>(
      "SELECT namespace, role FROM members WHERE user_name = ? ORDER BY namespace",
    ),
    setVisibility: db.prepare(
      `INSERT INTO repository_visibility (repository, visibility) VALUES (?, ?)
       ON CONFLICT (repository) DO UPDATE SET visibility = excluded.visibility`,
    ),
    clearVisibility: db.prepare("DELETE FROM repository_visibility WHERE repository = ?"),
    getVisibility: db.prepare<[string], { visibility: Visibility }>(
      "SELECT visibility FROM repository_visibility WHERE repository = ?",
    ),
    listVisibilities: db.prepare<[], { repository: string; visibility: Visibility }>(
      "SELECT repository, visibility FROM repository_visibility ORDER BY repository",
    ),
    insertRefresh: db.prepare(
      `INSERT INTO refresh_tokens (id, user_name, client_id, secret_hash, created_at, expires_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    getRefresh: db.prepare<[string], Row>(`SELECT ${REFRESH_COLUMNS} FROM refresh_tokens WHERE id = ?`),
    revokeRefresh: db.prepare("UPDATE refresh_tokens SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL"),
    listKeys: db.prepare<[], Row>(`SELECT ${KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid DESC`),
    insertKey: db.prepare(
      `INSERT INTO signing_keys (kid, algorithm, private_jwk, public_jwk, created_at, retired_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kid) DO NOTHING`,
    ),
    retireKey: db.prepare("UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL"),
    deleteKey: db.prepare("DELETE FROM signing_keys WHERE kid = ?"),
    insertAudit: db.prepare(
      `INSERT INTO audit (time, actor, action, repository, target, result, source, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    importUser: db.prepare(
      `INSERT INTO users (name, password_hash, admin, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, admin = excluded.admin, created_at = excluded.created_at`,
    ),
    importToken: db.prepare(
      `INSERT INTO tokens (id, owner, name, secret_hash, scopes, created_at, expires_at, revoked_at, last_used_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, name = excluded.name, secret_hash = excluded.secret_hash,
         scopes = excluded.scopes, created_at = excluded.created_at, expires_at = excluded.expires_at,
         revoked_at = excluded.revoked_at, last_used_at = excluded.last_used_at`,
    ),
    importNamespace: db.prepare(
      `INSERT INTO namespaces (name, visibility, owner, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET visibility = excluded.visibility, owner = excluded.owner, created_at = excluded.created_at`,
    ),
    listRefresh: db.prepare<[], Row>(`SELECT ${REFRESH_COLUMNS} FROM refresh_tokens ORDER BY id`),
    importRefresh: db.prepare(
      `INSERT INTO refresh_tokens (id, user_name, client_id, secret_hash, created_at, expires_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, client_id = excluded.client_id,
         secret_hash = excluded.secret_hash, created_at = excluded.created_at, expires_at = excluded.expires_at,
         revoked_at = excluded.revoked_at`,
    ),
    importKey: db.prepare(
      `INSERT INTO signing_keys (kid, algorithm, private_jwk, public_jwk, created_at, retired_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (kid) DO UPDATE SET algorithm = excluded.algorithm, private_jwk = excluded.private_jwk,
         public_jwk = excluded.public_jwk, created_at = excluded.created_at, retired_at = excluded.retired_at`,
    ),
    auditBound: db.prepare<[number, number], { time: number }>(
      "SELECT time FROM audit WHERE time > ? ORDER BY time LIMIT 1 OFFSET ?",
    ),
    auditAfter: db.prepare<[number], Row>(`SELECT ${AUDIT_COLUMNS} FROM audit WHERE time > ? ORDER BY time, id`),
    auditBetween: db.prepare<[number, number], Row>(
      `SELECT ${AUDIT_COLUMNS} FROM audit WHERE time > ? AND time <= ? ORDER BY time, id`,
    ),
  };
  const importAudit = db.transaction((events: readonly AuditEvent[]) => {
    for (const e of events) q.insertAudit.run(...auditParams(e));
  });
  const dropVisibilities = db.prepare("DELETE FROM repository_visibility WHERE repository = ? OR (repository > ? AND repository < ?)");
  const dropNamespace = db.prepare("DELETE FROM namespaces WHERE name = ?");
  // Members go with the namespace (ON DELETE CASCADE).
  const deleteNamespace = db.transaction(
    (name: string) => dropVisibilities.run(name, `${name}/`, `${name}0`).changes + dropNamespace.run(name).changes > 0,
  );
  const auditQueries = new Map<string, Database.Statement<(string | number)[], Row>>();

  const store: AuthStore = {
    async createUser(user) {
      return q.insertUser.run(user.name, user.passwordHash, user.admin ? 1 : 0, user.createdAt).changes > 0;
    },
    async getUser(name) {
      const row = q.getUser.get(name);
      return row && toUser(row);
    },
    async listUsers() {
      return q.listUsers.all().map(toUser);
    },
    async deleteUser(name) {
      return q.deleteUser.run(name).changes > 0;
    },
    async setPassword(name, passwordHash) {
      return q.setPassword.run(passwordHash, name).changes > 0;
    },

    async createToken(t) {
      const result = q.insertToken.run(...tokenParams(t));
      return result.changes > 0;
    },
    async getToken(id) {
      const row = q.getToken.get(id);
      return row && toToken(row);
    },
    async listTokens(owner) {
      return (owner === undefined ? q.listTokens.all() : q.listOwnerTokens.all(owner)).map(toToken);
    },
    async revokeToken(owner, name, at) {
      return q.revokeToken.run(at, owner, name).changes > 0;
    },
    async touchToken(id, at) {
      q.touchToken.run(at, id, at);
    },

    async putNamespace(ns) {
      q.putNamespace.run(ns.name, ns.visibility, ns.owner ?? null, ns.createdAt);
    },
    async getNamespace(name) {
      const row = q.getNamespace.get(name);
      return row && present<NamespaceRecord>(row);
    },
    async listNamespaces() {
      return q.listNamespaces.all().map((row) => present<NamespaceRecord>(row));
    },
    async deleteNamespace(name) {
      return deleteNamespace.immediate(name);
    },
    async setMember(namespace, user, role) {
      q.setMember.run(namespace, user, role);
    },
    async removeMember(namespace, user) {
      return q.removeMember.run(namespace, user).changes > 0;
    },
    async listMembers(namespace) {
      return q.listMembers.all(namespace);
    },
    async rolesOf(user) {
      return q.rolesOf.all(user);
    },

    async setRepositoryVisibility(repository, visibility) {
      if (visibility === undefined) q.clearVisibility.run(repository);
      else q.setVisibility.run(repository, visibility);
    },
    async getRepositoryVisibility(repository) {
      return q.getVisibility.get(repository)?.visibility;
    },
    async listRepositoryVisibilities() {
      return q.listVisibilities.all();
    },

    async createRefreshToken(t) {
      q.insertRefresh.run(...refreshParams(t));
    },
    async getRefreshToken(id) {
      const row = q.getRefresh.get(id);
      return row && present<RefreshTokenRecord>(row);
    },
    async revokeRefreshTokens(user, at) {
      return q.revokeRefresh.run(at, user).changes;
    },

    async listSigningKeys() {
      return q.listKeys.all().map((row) => present<SigningKeyRecord>(row));
    },
    async addSigningKey(k) {
      return q.insertKey.run(k.kid, k.algorithm, k.privateJwk, k.publicJwk, k.createdAt, k.retiredAt ?? null).changes > 0;
    },
    async retireSigningKey(kid, at) {
      q.retireKey.run(at, kid);
    },
    async deleteSigningKey(kid) {
      q.deleteKey.run(kid);
    },

    async appendAudit(e) {
      q.insertAudit.run(...auditParams(e));
    },
    async queryAudit(filter) {
      const limit = Math.floor(filter.limit);
      if (!(limit > 0)) return [];
      const { where, values } = auditWhere(filter, () => "?");
      const text = `SELECT ${AUDIT_COLUMNS} FROM audit ${where} ORDER BY time DESC, id DESC LIMIT ?`;
      let statement = auditQueries.get(text);
      if (!statement) auditQueries.set(text, (statement = db.prepare<(string | number)[], Row>(text)));
      return statement.all(...values, limit).map(toAudit);
    },

    async importUser(user) {
      q.importUser.run(user.name, user.passwordHash, user.admin ? 1 : 0, user.createdAt);
    },
    async importToken(t) {
      q.importToken.run(...tokenParams(t));
    },
    async importNamespace(ns) {
      q.importNamespace.run(ns.name, ns.visibility, ns.owner ?? null, ns.createdAt);
    },
    async listRefreshTokens() {
      return q.listRefresh.all().map((row) => present<RefreshTokenRecord>(row));
    },
    async importRefreshToken(t) {
      q.importRefresh.run(...refreshParams(t));
    },
    async importSigningKey(k) {
      q.importKey.run(k.kid, k.algorithm, k.privateJwk, k.publicJwk, k.createdAt, k.retiredAt ?? null);
    },
    async exportAudit(after, limit) {
      const from = after ?? Number.MIN_SAFE_INTEGER;
      const bound = q.auditBound.get(from, Math.max(0, Math.floor(limit) - 1))?.time;
      const rows = bound === undefined ? q.auditAfter.all(from) : q.auditBetween.all(from, bound);
      return rows.map(toAudit);
    },
    async importAudit(events) {
      importAudit.immediate(events);
    },

    async close() {
      if (db.open) db.close();
    },
  };
  return guardStore(store, "auth", "access-control database (SQLite)", sqliteUnavailable);
}
