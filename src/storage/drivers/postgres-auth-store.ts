import pg from "pg";
import { openPool, postgresUnavailable, type PoolTimeouts } from "./postgres-pool.js";
import { guardStore } from "../unavailable.js";
import { transaction } from "./postgres-tx.js";
import type {
  AuthStore,
  NamespaceRecord,
  RefreshTokenRecord,
  Role,
  SigningKeyRecord,
  Visibility,
} from "../auth-store.js";
import { POSTGRES_AUTH_MIGRATIONS, POSTGRES_AUTH_MIGRATIONS_TABLE } from "./postgres-auth-schema.js";

import { AUDIT_COLUMNS, auditParams, auditWhere, KEY_COLUMNS, NAMESPACE_COLUMNS, REFRESH_COLUMNS, TOKEN_COLUMNS, USER_COLUMNS, present, refreshParams, tokenParams, toAudit, toToken, toUser, type Row } from "./auth-rows.js";

export interface PostgresAuthStoreOptions {
  /** `postgres://user:password@host:port/database`; the role needs CREATE on the schema to migrate it. */
  url: string;
  /** Most connections the store keeps open (default 10). */
  poolSize?: number;
  /** Create the schema when its tables are absent (default false: a StoreMissingError, nothing created). */
  create?: boolean;
  /** Bounds on connecting and on each statement; a store that exceeds them answers 503 UNAVAILABLE. */
  timeouts?: PoolTimeouts;
}

/**
 * Session advisory lock key ("berthA" in ASCII) that serialises auth migrations across Berth
 * nodes; apart from the metadata store's ("berth"), so the two migrate independently.
 */
const MIGRATION_LOCK_KEY = "108187851450433";



/**
 * An AuthStore on PostgreSQL, for several Berth nodes sharing one database (possibly the metadata
 * store's). Opens a pool of `poolSize` connections and brings the auth schema up to date before
 * resolving; the pool is closed again when that fails. Every method is one statement (deleting a
 * user cascades through foreign keys) or, for importAudit, one transaction, so each is atomic. A token's owner, a member and a refresh
 * token's user must be existing users, and a member's namespace an existing namespace: the methods
 * writing them reject otherwise. Token names are unique per owner among tokens not revoked. Audit
 * queries bound `time` inclusively at both ends.
 */
export async function createPostgresAuthStore(options: PostgresAuthStoreOptions): Promise<AuthStore> {
  const pool = await openPool(options.url, options.poolSize ?? 10, {
    lockKey: MIGRATION_LOCK_KEY,
    table: "auth_schema_migrations",
    createTable: POSTGRES_AUTH_MIGRATIONS_TABLE,
    migrations: POSTGRES_AUTH_MIGRATIONS,
    label: "auth",
    create: options.create ?? false,
  }, options.timeouts);

  const rows = async <R extends pg.QueryResultRow = Row>(text: string, values: unknown[] = []) =>
    (await pool.query<R>(text, values)).rows;
  const firstRow = async <R extends pg.QueryResultRow = Row>(text: string, values: unknown[]) =>
    (await rows<R>(text, values))[0];
  const changes = async (text: string, values: unknown[]) => (await pool.query(text, values)).rowCount ?? 0;

  const store: AuthStore = {
    async createUser(user) {
      const values = [user.name, user.passwordHash, user.admin, user.createdAt];
      return (
        (await changes(
          "INSERT INTO users (name, password_hash, admin, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
          values,
        )) > 0
      );
    },
    async getUser(name) {
      const row = await firstRow(`SELECT ${USER_COLUMNS} FROM users WHERE name = $1`, [name]);
      return row && toUser(row);
    },
    async listUsers() {
      return (await rows(`SELECT ${USER_COLUMNS} FROM users ORDER BY name`)).map(toUser);
    },
    async deleteUser(name) {
      return (await changes("DELETE FROM users WHERE name = $1", [name])) > 0;
    },
    async setPassword(name, passwordHash) {
      return (await changes("UPDATE users SET password_hash = $1 WHERE name = $2", [passwordHash, name])) > 0;
    },

    async createToken(t) {
      const values = tokenParams(t);
      const inserted = await changes(
        `INSERT INTO tokens (id, owner, name, secret_hash, scopes, created_at, expires_at, revoked_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (owner, name) WHERE revoked_at IS NULL DO NOTHING`,
        values,
      );
      return inserted > 0;
    },
    async getToken(id) {
      const row = await firstRow(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE id = $1`, [id]);
      return row && toToken(row);
    },
    async listTokens(owner) {
      const found =
        owner === undefined
          ? await rows(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY owner, name, created_at, id`)
          : await rows(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE owner = $1 ORDER BY name, created_at, id`, [owner]);
      return found.map(toToken);
    },
    async revokeToken(owner, name, at) {
      const revoke = "UPDATE tokens SET revoked_at = $1 WHERE owner = $2 AND name = $3 AND revoked_at IS NULL";
      return (await changes(revoke, [at, owner, name])) > 0;
    },
    async touchToken(id, at) {
      await pool.query(
        "UPDATE tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
        [id, at],
      );
    },

    async putNamespace(ns) {
      await pool.query(
        `INSERT INTO namespaces (name, visibility, owner, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET visibility = excluded.visibility, owner = excluded.owner`,
        [ns.name, ns.visibility, ns.owner ?? null, ns.createdAt],
      );
    },
    async getNamespace(name) {
      const row = await firstRow(`SELECT ${NAMESPACE_COLUMNS} FROM namespaces WHERE name = $1`, [name]);
      return row && present<NamespaceRecord>(row);
    },
    async listNamespaces() {
      return (await rows(`SELECT ${NAMESPACE_COLUMNS} FROM namespaces ORDER BY name`)).map((r) => present<NamespaceRecord>(r));
    },
    async deleteNamespace(name) {
      // One statement, so atomic; members go with the namespace (ON DELETE CASCADE).
      const { rows: [row] } = await pool.query<{ n: number }>(
        `WITH v AS (DELETE FROM repository_visibility WHERE repository = $1 OR (repository > $2 AND repository < $3) RETURNING 1),
           ns AS (DELETE FROM namespaces WHERE name = $1 RETURNING 1)
         SELECT ((SELECT COUNT(*) FROM v) + (SELECT COUNT(*) FROM ns))::int AS n`,
        [name, `${name}/`, `${name}0`],
      );
      return (row?.n ?? 0) > 0;
    },
    async setMember(namespace, user, role) {
      await pool.query(
        `INSERT INTO members (namespace, user_name, role) VALUES ($1, $2, $3)
         ON CONFLICT (namespace, user_name) DO UPDATE SET role = excluded.role`,
        [namespace, user, role],
      );
    },
    async removeMember(namespace, user) {
      return (await changes("DELETE FROM members WHERE namespace = $1 AND user_name = $2", [namespace, user])) > 0;
    },
    async listMembers(namespace) {
      return rows<{ user: string; role: Role }>(
        `SELECT user_name AS "user", role FROM members WHERE namespace = $1 ORDER BY user_name`,
        [namespace],
      );
    },
    async rolesOf(user) {
      return rows<{ namespace: string; role: Role }>(
        "SELECT namespace, role FROM members WHERE user_name = $1 ORDER BY namespace",
        [user],
      );
    },

    async setRepositoryVisibility(repository, visibility) {
      if (visibility === undefined) {
        await pool.query("DELETE FROM repository_visibility WHERE repository = $1", [repository]);
        return;
      }
      await pool.query(
        `INSERT INTO repository_visibility (repository, visibility) VALUES ($1, $2)
         ON CONFLICT (repository) DO UPDATE SET visibility = excluded.visibility`,
        [repository, visibility],
      );
    },
    async getRepositoryVisibility(repository) {
      const row = await firstRow<{ visibility: Visibility }>(
        "SELECT visibility FROM repository_visibility WHERE repository = $1",
        [repository],
      );
      return row?.visibility;
    },
    async listRepositoryVisibilities() {
      return rows<{ repository: string; visibility: Visibility }>(
        "SELECT repository, visibility FROM repository_visibility ORDER BY repository",
      );
    },

    async createRefreshToken(t) {
      await pool.query(
        `INSERT INTO refresh_tokens (id, user_name, client_id, secret_hash, created_at, expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        refreshParams(t),
      );
    },
    async getRefreshToken(id) {
      const row = await firstRow(`SELECT ${REFRESH_COLUMNS} FROM refresh_tokens WHERE id = $1`, [id]);
      return row && present<RefreshTokenRecord>(row);
    },
    async revokeRefreshTokens(user, at) {
      return changes("UPDATE refresh_tokens SET revoked_at = $1 WHERE user_name = $2 AND revoked_at IS NULL", [at, user]);
    },

    async listSigningKeys() {
      const found = await rows(`SELECT ${KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid DESC`);
      return found.map((r) => present<SigningKeyRecord>(r));
    },
    async addSigningKey(k) {
      const inserted = await changes(
        `INSERT INTO signing_keys (kid, algorithm, private_jwk, public_jwk, created_at, retired_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING`,
        [k.kid, k.algorithm, k.privateJwk, k.publicJwk, k.createdAt, k.retiredAt ?? null],
      );
      return inserted > 0;
    },
    async retireSigningKey(kid, at) {
      await pool.query("UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL", [at, kid]);
    },
    async deleteSigningKey(kid) {
      await pool.query("DELETE FROM signing_keys WHERE kid = $1", [kid]);
    },

    async appendAudit(e) {
      await pool.query(
        `INSERT INTO audit (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        auditParams(e),
      );
    },
    async queryAudit(filter) {
      const limit = Math.floor(filter.limit);
      if (!(limit > 0)) return [];
      const { where, values } = auditWhere(filter, (n) => `$${n}`);
      const found = await rows(
        `SELECT ${AUDIT_COLUMNS} FROM audit ${where} ORDER BY time DESC, id DESC LIMIT $${values.length + 1}`,
        [...values, limit],
      );
      return found.map(toAudit);
    },

    async importUser(user) {
      await pool.query(
        `INSERT INTO users (name, password_hash, admin, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, admin = excluded.admin, created_at = excluded.created_at`,
        [user.name, user.passwordHash, user.admin, user.createdAt],
      );
    },
    async importToken(t) {
      await pool.query(
        `INSERT INTO tokens (id, owner, name, secret_hash, scopes, created_at, expires_at, revoked_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, name = excluded.name, secret_hash = excluded.secret_hash,
           scopes = excluded.scopes, created_at = excluded.created_at, expires_at = excluded.expires_at,
           revoked_at = excluded.revoked_at, last_used_at = excluded.last_used_at`,
        tokenParams(t),
      );
    },
    async importNamespace(ns) {
      await pool.query(
        `INSERT INTO namespaces (name, visibility, owner, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET visibility = excluded.visibility, owner = excluded.owner, created_at = excluded.created_at`,
        [ns.name, ns.visibility, ns.owner ?? null, ns.createdAt],
      );
    },
    async listRefreshTokens() {
      return (await rows(`SELECT ${REFRESH_COLUMNS} FROM refresh_tokens ORDER BY id`)).map((r) => present<RefreshTokenRecord>(r));
    },
    async importRefreshToken(t) {
      await pool.query(
        `INSERT INTO refresh_tokens (id, user_name, client_id, secret_hash, created_at, expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, client_id = excluded.client_id,
           secret_hash = excluded.secret_hash, created_at = excluded.created_at, expires_at = excluded.expires_at,
           revoked_at = excluded.revoked_at`,
        refreshParams(t),
      );
    },
    async importSigningKey(k) {
      await pool.query(
        `INSERT INTO signing_keys (kid, algorithm, private_jwk, public_jwk, created_at, retired_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kid) DO UPDATE SET algorithm = excluded.algorithm, private_jwk = excluded.private_jwk,
           public_jwk = excluded.public_jwk, created_at = excluded.created_at, retired_at = excluded.retired_at`,
        [k.kid, k.algorithm, k.privateJwk, k.publicJwk, k.createdAt, k.retiredAt ?? null],
      );
    },
    async exportAudit(after, limit) {
      const from = after ?? Number.MIN_SAFE_INTEGER;
      const bound = await firstRow<{ time: number }>("SELECT time FROM audit WHERE time > $1 ORDER BY time LIMIT 1 OFFSET $2", [
        from,
        Math.max(0, Math.floor(limit) - 1),
      ]);
      const found =
        bound === undefined
          ? await rows(`SELECT ${AUDIT_COLUMNS} FROM audit WHERE time > $1 ORDER BY time, id`, [from])
          : await rows(`SELECT ${AUDIT_COLUMNS} FROM audit WHERE time > $1 AND time <= $2 ORDER BY time, id`, [from, bound.time]);
      return found.map(toAudit);
    },
    async importAudit(events) {
      if (events.length === 0) return;
      await transaction(pool, async (client) => {
        // Rows of one multi-row INSERT take their identities in list order, which keeps the append order.
        for (let i = 0; i < events.length; i += 500) {
          const chunk = events.slice(i, i + 500);
          const values = chunk.map((_, r) => `(${Array.from({ length: 8 }, (_, c) => `$${r * 8 + c + 1}`).join(", ")})`);
          await client.query(`INSERT INTO audit (${AUDIT_COLUMNS}) VALUES ${values.join(", ")}`, chunk.flatMap(auditParams));
        }
      });
    },

    async close() {
      if (!pool.ending) await pool.end();
    },
  };
  return guardStore(store, "auth", "access-control database (PostgreSQL)", postgresUnavailable(options.timeouts));
}

