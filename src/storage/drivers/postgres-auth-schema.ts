/**
 * The PostgreSQL schema of the AuthStore as numbered migrations: `POSTGRES_AUTH_MIGRATIONS[i]` is
 * version `i + 1`, and `auth_schema_migrations` records each version applied. A migration is
 * appended, never edited, once released. The tables may share a database with the metadata
 * store's (their names do not overlap) but are migrated on their own.
 *
 * It mirrors the SQLite schema (sqlite-auth-schema.ts) table for table, with the same design:
 * cascading references to users, token names unique per owner among tokens not revoked, audit rows
 * referencing nothing. Differences that matter:
 * - Names are `TEXT COLLATE "C"`, so listings are ordered byte-wise like SQLite's, whatever the
 *   database's default locale.
 * - Timestamps (epoch ms) and the audit id are BIGINT; the driver parses them to numbers.
 * - Scopes and audit details stay JSON text rather than JSONB: JSONB reorders keys and rejects `\u0000`.
 */

/** Created before any migration runs, under the auth migration lock. */
export const POSTGRES_AUTH_MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS auth_schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL
  )
`;

export const POSTGRES_AUTH_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    name TEXT COLLATE "C" PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
  );
  CREATE UNIQUE INDEX tokens_live_name ON tokens(owner, name) WHERE revoked_at IS NULL;
  CREATE INDEX tokens_owner ON tokens(owner, name, created_at);
  CREATE TABLE namespaces (
    name TEXT COLLATE "C" PRIMARY KEY,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    owner TEXT COLLATE "C",
    created_at BIGINT NOT NULL
  );
  CREATE TABLE members (
    namespace TEXT COLLATE "C" NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    user_name TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'maintainer', 'owner')),
    PRIMARY KEY (namespace, user_name)
  );
  CREATE INDEX members_user ON members(user_name, namespace);
  CREATE TABLE repository_visibility (
    repository TEXT COLLATE "C" PRIMARY KEY,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private'))
  );
  CREATE TABLE refresh_tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_name TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
  );
  CREATE INDEX refresh_tokens_user ON refresh_tokens(user_name);
  CREATE TABLE signing_keys (
    kid TEXT COLLATE "C" PRIMARY KEY,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('ES256', 'RS256')),
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
  );
  CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time BIGINT NOT NULL,
    actor TEXT COLLATE "C",
    action TEXT COLLATE "C" NOT NULL,
    repository TEXT COLLATE "C",
    target TEXT,
    result TEXT NOT NULL CHECK (result IN ('ok', 'denied', 'failed')),
    source TEXT,
    detail TEXT
  );
  CREATE INDEX audit_time ON audit(time DESC, id DESC);
  CREATE INDEX audit_actor ON audit(actor, time DESC, id DESC) WHERE actor IS NOT NULL;
  CREATE INDEX audit_repository ON audit(repository, time DESC, id DESC) WHERE repository IS NOT NULL;
  CREATE INDEX audit_action ON audit(action, time DESC, id DESC);
  `,
];
