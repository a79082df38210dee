/**
 * The SQLite schema of the AuthStore (its own file, apart from the metadata database) as numbered
 * migrations; `PRAGMA user_version` records how many have run. A migration is appended, never
 * edited, once released.
 *
 * - Tokens, memberships and refresh tokens reference their user ON DELETE CASCADE, so deleting a
 *   user takes them along in one statement; their user (and a membership's namespace) must exist.
 * - A token name is unique per owner among tokens not revoked (a partial unique index): revoking
 *   a token frees its name, and the revoked row stays for the audit trail.
 * - A namespace's `owner` is a record of who created it, not a reference: it outlives the user.
 * - Audit rows reference nothing, so they survive the users and repositories they name.
 * - Scopes and audit details are JSON text; timestamps are epoch milliseconds.
 * - Column names match the PostgreSQL schema, hence `user_name` (`user` is reserved there).
 */
export const SQLITE_AUTH_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL CHECK (admin IN (0, 1)),
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX tokens_live_name ON tokens(owner, name) WHERE revoked_at IS NULL;
  CREATE INDEX tokens_owner ON tokens(owner, name, created_at);
  CREATE TABLE namespaces (
    name TEXT PRIMARY KEY,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    owner TEXT,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE members (
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'maintainer', 'owner')),
    PRIMARY KEY (namespace, user_name)
  ) WITHOUT ROWID;
  CREATE INDEX members_user ON members(user_name, namespace);
  CREATE TABLE repository_visibility (
    repository TEXT PRIMARY KEY,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private'))
  ) WITHOUT ROWID;
  CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX refresh_tokens_user ON refresh_tokens(user_name);
  CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('ES256', 'RS256')),
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
  ) WITHOUT ROWID;
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    repository TEXT,
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
