/**
 * The PostgreSQL schema as numbered migrations: `POSTGRES_MIGRATIONS[i]` is version `i + 1`, and
 * `schema_migrations` records each version applied. A migration is appended, never edited, once
 * released.
 *
 * It mirrors the SQLite schema (sqlite-schema.ts) table for table. Differences that matter:
 * - Names, tags, digests and upload ids are `TEXT COLLATE "C"`, so comparisons and ORDER BY are
 *   byte-wise like SQLite's BINARY collation whatever the database's default locale; catalog and
 *   tag pagination (`name > $last ORDER BY name`) depend on it, and the indexes on these columns
 *   carry the same collation so those queries are plain index range scans.
 * - Sizes, ids and timestamps (epoch ms, as in SQLite) are BIGINT; the driver parses them to numbers.
 * - Annotations stay JSON text rather than JSONB: JSONB reorders keys and rejects `\u0000`.
 */

/** Created before any migration runs, under the migration lock. */
export const POSTGRES_MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL
  )
`;

export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE repositories (
    id BIGSERIAL PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT repositories_name_key UNIQUE (name)
  );
  CREATE TABLE blobs (
    digest TEXT COLLATE "C" PRIMARY KEY,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE repository_blobs (
    repository_id BIGINT NOT NULL REFERENCES repositories(id),
    digest TEXT COLLATE "C" NOT NULL REFERENCES blobs(digest),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
  );
  CREATE INDEX repository_blobs_digest ON repository_blobs(digest);
  CREATE TABLE manifests (
    repository_id BIGINT NOT NULL REFERENCES repositories(id),
    digest TEXT COLLATE "C" NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    content BYTEA NOT NULL,
    artifact_type TEXT,
    subject TEXT COLLATE "C",
    annotations TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
  );
  CREATE INDEX manifests_subject ON manifests(repository_id, subject, digest) WHERE subject IS NOT NULL;
  CREATE TABLE manifest_references (
    repository_id BIGINT NOT NULL,
    manifest_digest TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
    digest TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository_id, manifest_digest, kind, digest),
    FOREIGN KEY (repository_id, manifest_digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
  );
  CREATE INDEX manifest_references_target ON manifest_references(kind, digest);
  CREATE TABLE tags (
    repository_id BIGINT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    digest TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
  );
  CREATE INDEX tags_digest ON tags(repository_id, digest);
  CREATE TABLE uploads (
    id TEXT COLLATE "C" PRIMARY KEY,
    repository TEXT COLLATE "C" NOT NULL,
    algorithm TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX uploads_updated ON uploads(updated_at, id);
  `,
  // 2: garbage collection (see sqlite-schema.ts); the sweep lock is an advisory lock, not a table.
  `
  ALTER TABLE blobs ADD COLUMN state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'deleting'));
  ALTER TABLE uploads ADD COLUMN claim TEXT COLLATE "C";
  CREATE INDEX uploads_claim ON uploads(claim) WHERE claim IS NOT NULL;
  ALTER TABLE tags ADD COLUMN pulled_at BIGINT;
  `,
  // 3: the event outbox and webhook deliveries (see sqlite-schema.ts). A BIGSERIAL never reuses a
  // value; event writers and fan-out agree on a horizon through an advisory lock (postgres-events.ts).
  `
  CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL,
    type TEXT NOT NULL,
    time BIGINT NOT NULL,
    repository TEXT COLLATE "C",
    data TEXT NOT NULL,
    CONSTRAINT events_id_key UNIQUE (id)
  );
  CREATE INDEX events_time ON events(time);
  CREATE TABLE webhook_cursors (
    endpoint TEXT COLLATE "C" PRIMARY KEY,
    seq BIGINT,
    last_success_at BIGINT,
    last_failure_at BIGINT,
    last_error TEXT
  );
  CREATE TABLE webhook_deliveries (
    endpoint TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL REFERENCES events(seq),
    repository TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    last_attempt_at BIGINT,
    last_status INTEGER,
    last_error TEXT,
    delivered_at BIGINT,
    replayed_at BIGINT,
    PRIMARY KEY (endpoint, seq)
  );
  CREATE INDEX webhook_deliveries_claim ON webhook_deliveries(endpoint, state, next_at);
  CREATE INDEX webhook_deliveries_order ON webhook_deliveries(endpoint, repository, seq) WHERE state = 'pending';
  CREATE INDEX webhook_deliveries_seq ON webhook_deliveries(seq);
  `,
  // 4: supply-chain records (see sqlite-schema.ts).
  `
  CREATE TABLE supply_records (
    kind TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
  );
  CREATE TABLE supply_generations (
    kind TEXT COLLATE "C" PRIMARY KEY,
    generation BIGINT NOT NULL
  );
  `,
];
