/**
 * The SQLite schema as numbered migrations; `PRAGMA user_version` records how many have run.
 * A migration is appended, never edited, once released.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE repositories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories(id),
    digest TEXT NOT NULL REFERENCES blobs(digest),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
  ) WITHOUT ROWID;
  CREATE INDEX repository_blobs_digest ON repository_blobs(digest);
  CREATE TABLE manifests (
    repository_id INTEGER NOT NULL REFERENCES repositories(id),
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    content BLOB NOT NULL,
    artifact_type TEXT,
    subject TEXT,
    annotations TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
  );
  CREATE INDEX manifests_subject ON manifests(repository_id, subject) WHERE subject IS NOT NULL;
  CREATE TABLE manifest_references (
    repository_id INTEGER NOT NULL,
    manifest_digest TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
    digest TEXT NOT NULL,
    PRIMARY KEY (repository_id, manifest_digest, kind, digest),
    FOREIGN KEY (repository_id, manifest_digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE INDEX manifest_references_target ON manifest_references(kind, digest);
  CREATE TABLE tags (
    repository_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE INDEX tags_digest ON tags(repository_id, digest);
  CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX uploads_updated ON uploads(updated_at);
  `,
  // 2: garbage collection. A blob row is `live` or `deleting` (a sweep owns it); an upload claims
  // the digest it is about to commit; `locks` lets one process at a time sweep; tags record pulls.
  `
  ALTER TABLE blobs ADD COLUMN state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'deleting'));
  ALTER TABLE uploads ADD COLUMN claim TEXT;
  CREATE INDEX uploads_claim ON uploads(claim) WHERE claim IS NOT NULL;
  ALTER TABLE tags ADD COLUMN pulled_at INTEGER;
  CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 3: the event outbox and webhook deliveries (event-store.ts). AUTOINCREMENT: a seq is never
  // reused after a prune, so a cursor can never pass over an event inserted later. `data` holds the
  // event's other fields as JSON. A cursor with NULL seq has health but has not fanned out yet.
  `
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    time INTEGER NOT NULL,
    repository TEXT,
    data TEXT NOT NULL
  );
  CREATE INDEX events_time ON events(time);
  CREATE TABLE webhook_cursors (
    endpoint TEXT PRIMARY KEY,
    seq INTEGER,
    last_success_at INTEGER,
    last_failure_at INTEGER,
    last_error TEXT
  ) WITHOUT ROWID;
  CREATE TABLE webhook_deliveries (
    endpoint TEXT NOT NULL,
    seq INTEGER NOT NULL REFERENCES events(seq),
    repository TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER,
    lease_owner TEXT,
    lease_until INTEGER,
    last_attempt_at INTEGER,
    last_status INTEGER,
    last_error TEXT,
    delivered_at INTEGER,
    replayed_at INTEGER,
    PRIMARY KEY (endpoint, seq)
  ) WITHOUT ROWID;
  CREATE INDEX webhook_deliveries_claim ON webhook_deliveries(endpoint, state, next_at);
  CREATE INDEX webhook_deliveries_order ON webhook_deliveries(endpoint, repository, seq) WHERE state = 'pending';
  CREATE INDEX webhook_deliveries_seq ON webhook_deliveries(seq);
  `,
  // 4: supply-chain records (supply-store.ts): the vulnerability database, scan results, SBOM index.
  `
  CREATE TABLE supply_records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
  ) WITHOUT ROWID;
  CREATE TABLE supply_generations (
    kind TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 5: the storage gauges' totals (berth_storage_*), kept by triggers as rows come and go, so a
  // metrics scrape reads one row instead of scanning every blob and manifest (a second at 1M blobs,
  // with the server's only thread blocked). Counted once here; the trigger bodies keep it exact,
  // whoever writes (the server, the CLI, a cascade from a deleted manifest).
  `
  CREATE TABLE storage_totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    blobs INTEGER NOT NULL,
    blob_bytes INTEGER NOT NULL,
    manifests INTEGER NOT NULL,
    manifest_bytes INTEGER NOT NULL,
    repositories INTEGER NOT NULL,
    tags INTEGER NOT NULL
  );
  INSERT INTO storage_totals SELECT 1,
    (SELECT COUNT(*) FROM blobs WHERE state = 'live'), (SELECT COALESCE(SUM(size), 0) FROM blobs WHERE state = 'live'),
    (SELECT COUNT(*) FROM manifests), (SELECT COALESCE(SUM(size), 0) FROM manifests),
    (SELECT COUNT(*) FROM repositories), (SELECT COUNT(*) FROM tags);
  CREATE TRIGGER storage_totals_blob_in AFTER INSERT ON blobs WHEN NEW.state = 'live'
    BEGIN UPDATE storage_totals SET blobs = blobs + 1, blob_bytes = blob_bytes + NEW.size; END;
  CREATE TRIGGER storage_totals_blob_out AFTER DELETE ON blobs WHEN OLD.state = 'live'
    BEGIN UPDATE storage_totals SET blobs = blobs - 1, blob_bytes = blob_bytes - OLD.size; END;
  CREATE TRIGGER storage_totals_blob_state AFTER UPDATE OF state, size ON blobs
    BEGIN UPDATE storage_totals SET
      blobs = blobs + (NEW.state = 'live') - (OLD.state = 'live'),
      blob_bytes = blob_bytes + (CASE WHEN NEW.state = 'live' THEN NEW.size ELSE 0 END) - (CASE WHEN OLD.state = 'live' THEN OLD.size ELSE 0 END); END;
  CREATE TRIGGER storage_totals_manifest_in AFTER INSERT ON manifests
    BEGIN UPDATE storage_totals SET manifests = manifests + 1, manifest_bytes = manifest_bytes + NEW.size; END;
  CREATE TRIGGER storage_totals_manifest_out AFTER DELETE ON manifests
    BEGIN UPDATE storage_totals SET manifests = manifests - 1, manifest_bytes = manifest_bytes - OLD.size; END;
  CREATE TRIGGER storage_totals_manifest_size AFTER UPDATE OF size ON manifests
    BEGIN UPDATE storage_totals SET manifest_bytes = manifest_bytes + NEW.size - OLD.size; END;
  CREATE TRIGGER storage_totals_repository_in AFTER INSERT ON repositories
    BEGIN UPDATE storage_totals SET repositories = repositories + 1; END;
  CREATE TRIGGER storage_totals_repository_out AFTER DELETE ON repositories
    BEGIN UPDATE storage_totals SET repositories = repositories - 1; END;
  CREATE TRIGGER storage_totals_tag_in AFTER INSERT ON tags
    BEGIN UPDATE storage_totals SET tags = tags + 1; END;
  CREATE TRIGGER storage_totals_tag_out AFTER DELETE ON tags
    BEGIN UPDATE storage_totals SET tags = tags - 1; END;
  `,
  // 6: what the web UI's repository list sorts and shows (browse-store.ts), kept by triggers like
  // storage_totals so a page of 100,000 repositories sorted by push time or size is an index scan.
  // `size`: the repository's linked blobs (each once: one row per link) plus its manifests' bytes;
  // `pushed_at`: the last manifest stored or tag pointed (0: never). Tags count their pulls.
  `
  ALTER TABLE repositories ADD COLUMN pushed_at INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE repositories ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE repositories ADD COLUMN tag_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE repositories ADD COLUMN manifest_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tags ADD COLUMN pull_count INTEGER NOT NULL DEFAULT 0;
  UPDATE repositories SET
    tag_count = (SELECT COUNT(*) FROM tags t WHERE t.repository_id = repositories.id),
    manifest_count = (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = repositories.id),
    size = (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = repositories.id)
      + (SELECT COALESCE(SUM(m.size), 0) FROM manifests m WHERE m.repository_id = repositories.id),
    pushed_at = MAX(COALESCE((SELECT MAX(created_at) FROM manifests m WHERE m.repository_id = repositories.id), 0),
      COALESCE((SELECT MAX(updated_at) FROM tags t WHERE t.repository_id = repositories.id), 0));
  CREATE INDEX repositories_pushed ON repositories(pushed_at, name);
  CREATE INDEX repositories_size ON repositories(size, name);
  CREATE INDEX tags_updated ON tags(repository_id, updated_at, name);
  CREATE TRIGGER repository_stats_link_in AFTER INSERT ON repository_blobs
    BEGIN UPDATE repositories SET size = size + (SELECT size FROM blobs WHERE digest = NEW.digest) WHERE id = NEW.repository_id; END;
  CREATE TRIGGER repository_stats_link_out AFTER DELETE ON repository_blobs
    BEGIN UPDATE repositories SET size = size - COALESCE((SELECT size FROM blobs WHERE digest = OLD.digest), 0) WHERE id = OLD.repository_id; END;
  CREATE TRIGGER repository_stats_manifest_in AFTER INSERT ON manifests
    BEGIN UPDATE repositories SET size = size + NEW.size, manifest_count = manifest_count + 1,
      pushed_at = MAX(pushed_at, NEW.created_at) WHERE id = NEW.repository_id; END;
  CREATE TRIGGER repository_stats_manifest_out AFTER DELETE ON manifests
    BEGIN UPDATE repositories SET size = size - OLD.size, manifest_count = manifest_count - 1 WHERE id = OLD.repository_id; END;
  CREATE TRIGGER repository_stats_tag_in AFTER INSERT ON tags
    BEGIN UPDATE repositories SET tag_count = tag_count + 1, pushed_at = MAX(pushed_at, NEW.updated_at) WHERE id = NEW.repository_id; END;
  CREATE TRIGGER repository_stats_tag_out AFTER DELETE ON tags
    BEGIN UPDATE repositories SET tag_count = tag_count - 1 WHERE id = OLD.repository_id; END;
  CREATE TRIGGER repository_stats_tag_moved AFTER UPDATE OF digest, updated_at ON tags
    BEGIN UPDATE repositories SET pushed_at = MAX(pushed_at, NEW.updated_at) WHERE id = NEW.repository_id; END;
  `,
];
