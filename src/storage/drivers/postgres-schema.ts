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
  // 5: the web UI's per-repository numbers (see sqlite-schema.ts, migration 6). The triggers are
  // constraint triggers deferred to COMMIT: a push locks its manifest and tag rows first and the
  // repository row last, so two writers of one repository never hold one row each while waiting
  // for the other's (a deleteTag locks its tag row, a push its repository row, then both wait).
  `
  ALTER TABLE repositories ADD COLUMN pushed_at BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE repositories ADD COLUMN size BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE repositories ADD COLUMN tag_count BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE repositories ADD COLUMN manifest_count BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE tags ADD COLUMN pull_count BIGINT NOT NULL DEFAULT 0;
  UPDATE repositories r SET
    tag_count = (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id),
    manifest_count = (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id),
    size = (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = r.id)
      + (SELECT COALESCE(SUM(m.size), 0) FROM manifests m WHERE m.repository_id = r.id),
    pushed_at = GREATEST(COALESCE((SELECT MAX(created_at) FROM manifests m WHERE m.repository_id = r.id), 0),
      COALESCE((SELECT MAX(updated_at) FROM tags t WHERE t.repository_id = r.id), 0));
  CREATE INDEX repositories_pushed ON repositories(pushed_at, name);
  CREATE INDEX repositories_size ON repositories(size, name);
  CREATE INDEX tags_updated ON tags(repository_id, updated_at, name);
  CREATE FUNCTION repository_stats_link() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      UPDATE repositories SET size = size + COALESCE((SELECT size FROM blobs WHERE digest = NEW.digest), 0) WHERE id = NEW.repository_id;
    ELSE
      UPDATE repositories SET size = size - COALESCE((SELECT size FROM blobs WHERE digest = OLD.digest), 0) WHERE id = OLD.repository_id;
    END IF;
    RETURN NULL;
  END $$;
  CREATE FUNCTION repository_stats_manifest() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      UPDATE repositories SET size = size + NEW.size, manifest_count = manifest_count + 1,
        pushed_at = GREATEST(pushed_at, NEW.created_at) WHERE id = NEW.repository_id;
    ELSE
      UPDATE repositories SET size = size - OLD.size, manifest_count = manifest_count - 1 WHERE id = OLD.repository_id;
    END IF;
    RETURN NULL;
  END $$;
  CREATE FUNCTION repository_stats_tag() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      UPDATE repositories SET tag_count = tag_count + 1, pushed_at = GREATEST(pushed_at, NEW.updated_at) WHERE id = NEW.repository_id;
    ELSIF TG_OP = 'DELETE' THEN
      UPDATE repositories SET tag_count = tag_count - 1 WHERE id = OLD.repository_id;
    ELSIF NEW.updated_at <> OLD.updated_at OR NEW.digest <> OLD.digest THEN
      UPDATE repositories SET pushed_at = GREATEST(pushed_at, NEW.updated_at) WHERE id = NEW.repository_id;
    END IF;
    RETURN NULL;
  END $$;
  CREATE CONSTRAINT TRIGGER repository_stats_link AFTER INSERT OR DELETE ON repository_blobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION repository_stats_link();
  CREATE CONSTRAINT TRIGGER repository_stats_manifest AFTER INSERT OR DELETE ON manifests
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION repository_stats_manifest();
  CREATE CONSTRAINT TRIGGER repository_stats_tag AFTER INSERT OR DELETE OR UPDATE OF digest, updated_at ON tags
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION repository_stats_tag();
  `,
];
