import type Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Digest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import type { BlobRow, BlobUsers, LifecycleStore, ManifestNode } from "../lifecycle-store.js";
import type { EventRecord } from "../event-store.js";
import { eventsForUnlinked } from "./event-rows.js";
import type { RecordEvents } from "./sqlite-events.js";

/** Keeps a live blob alive: a link, a manifest reference or an upload's claim (`b` is the blobs row). */
const KEPT = `(EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)
  OR EXISTS (SELECT 1 FROM manifest_references r WHERE r.kind = 'blob' AND r.digest = b.digest)
  OR EXISTS (SELECT 1 FROM uploads u WHERE u.claim = b.digest))`;

interface LockRow {
  holder: string;
  host: string;
  pid: number;
}

/** Locks this process holds, by holder id: a row naming our own pid is live only if it is here. */
const heldHere = new Set<string>();

function holderAlive(row: LockRow): boolean {
  // SQLite is one machine's database; a row from elsewhere cannot be checked, so it is respected.
  if (row.host !== hostname()) return true;
  if (row.pid === process.pid) return heldHere.has(row.holder);
  try {
    process.kill(row.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * The LifecycleStore half of the SQLite metadata store. Every write runs in an IMMEDIATE
 * transaction, so SQLite's single writer serialises each check with the write that depends on it.
 */
export function createSqliteLifecycle(db: Database.Database, ensureRepo: (name: string) => number, recordEvents: RecordEvents): LifecycleStore {
  const q = {
    repoId: db.prepare<[string], { id: number }>("SELECT id FROM repositories WHERE name = ?"),
    blob: db.prepare<[string], { size: number; state: string }>("SELECT size, state FROM blobs WHERE digest = ?"),
    insertBlob: db.prepare("INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)"),
    claim: db.prepare("UPDATE uploads SET claim = ? WHERE id = ?"),
    link: db.prepare(
      "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    lock: db.prepare<[string], LockRow>("SELECT holder, host, pid FROM locks WHERE name = ?"),
    takeLock: db.prepare("INSERT OR REPLACE INTO locks (name, holder, host, pid, acquired_at) VALUES (?, ?, ?, ?, ?)"),
    dropLock: db.prepare("DELETE FROM locks WHERE name = ? AND holder = ?"),
    nodes: db.prepare<[number, string, number], { digest: string; subject: string | null; created_at: number; tagged: number }>(
      `SELECT m.digest, m.subject, m.created_at,
         EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest) AS tagged
       FROM manifests m WHERE m.repository_id = ? AND m.digest > ? ORDER BY m.digest LIMIT ?`,
    ),
    refs: db.prepare<[number, string], { kind: string; digest: string }>(
      "SELECT kind, digest FROM manifest_references WHERE repository_id = ? AND manifest_digest = ?",
    ),
    manifest: db.prepare<[number, string], { created_at: number; subject: string | null }>(
      "SELECT created_at, subject FROM manifests WHERE repository_id = ? AND digest = ?",
    ),
    tagged: db.prepare<[number, string], { one: number }>("SELECT 1 AS one FROM tags WHERE repository_id = ? AND digest = ?"),
    listed: db.prepare<[number, string], { one: number }>(
      "SELECT 1 AS one FROM manifest_references WHERE repository_id = ? AND kind = 'manifest' AND digest = ?",
    ),
    hasManifest: db.prepare<[number, string], { one: number }>(
      "SELECT 1 AS one FROM manifests WHERE repository_id = ? AND digest = ?",
    ),
    deleteManifest: db.prepare("DELETE FROM manifests WHERE repository_id = ? AND digest = ?"),
    links: db.prepare<[number, string, number], { digest: string; size: number; created_at: number }>(
      `SELECT rb.digest, b.size, rb.created_at FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
       WHERE rb.repository_id = ? AND rb.digest > ? ORDER BY rb.digest LIMIT ?`,
    ),
    linkRow: db.prepare<[number, string], { created_at: number }>(
      "SELECT created_at FROM repository_blobs WHERE repository_id = ? AND digest = ?",
    ),
    referenced: db.prepare<[number, string], { one: number }>(
      "SELECT 1 AS one FROM manifest_references WHERE repository_id = ? AND kind = 'blob' AND digest = ?",
    ),
    unlink: db.prepare("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?"),
    unreferenced: db.prepare<[string, number], BlobRow>(
      `SELECT b.digest, b.size FROM blobs b WHERE b.digest > ? AND b.state = 'live' AND NOT ${KEPT}
       ORDER BY b.digest LIMIT ?`,
    ),
    markIfUnreferenced: db.prepare(`UPDATE blobs AS b SET state = 'deleting' WHERE b.digest = ? AND b.state = 'live' AND NOT ${KEPT}`),
    deleting: db.prepare<[number], BlobRow>("SELECT digest, size FROM blobs WHERE state = 'deleting' ORDER BY digest LIMIT ?"),
    forget: db.prepare("DELETE FROM blobs WHERE digest = ? AND state = 'deleting'"),
    linkUsers: db.prepare<[string], { name: string; created_at: number }>(
      `SELECT r.name, rb.created_at FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
       WHERE rb.digest = ? ORDER BY r.name`,
    ),
    referenceUsers: db.prepare<[string], { name: string; manifest_digest: string }>(
      `SELECT r.name, mr.manifest_digest FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
       WHERE mr.kind = 'blob' AND mr.digest = ? ORDER BY r.name, mr.manifest_digest`,
    ),
    claimed: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM uploads WHERE claim = ? LIMIT 1"),
  };

  const claimBlob = db.transaction((uploadId: string, digest: string, size: number): boolean => {
    const row = q.blob.get(digest);
    if (row?.state === "deleting") return false;
    if (!row) q.insertBlob.run(digest, size, Date.now());
    if (q.claim.run(digest, uploadId).changes === 0) {
      throw new RegistryError("BLOB_UPLOAD_UNKNOWN", "upload session vanished before commit", { id: uploadId });
    }
    return true;
  });

  const linkBlob = db.transaction((repo: string, digest: string, events?: readonly EventRecord[]): number | undefined => {
    const row = q.blob.get(digest);
    if (!row || row.state !== "live") return undefined;
    q.link.run(ensureRepo(repo), digest, Date.now());
    recordEvents(events);
    return row.size;
  });

  const tryLock = db.transaction((name: string, holder: string): boolean => {
    const row = q.lock.get(name);
    if (row && holderAlive(row)) return false;
    q.takeLock.run(name, holder, hostname(), process.pid, Date.now());
    return true;
  });

  const deleteManifest = db.transaction((repo: string, digest: string, before: number, events?: readonly EventRecord[]): boolean => {
    const repoId = q.repoId.get(repo)?.id;
    if (repoId === undefined) return false;
    const m = q.manifest.get(repoId, digest);
    if (!m || m.created_at >= before) return false;
    if (q.tagged.get(repoId, digest) || q.listed.get(repoId, digest)) return false;
    if (m.subject !== null && q.hasManifest.get(repoId, m.subject)) return false;
    if (q.deleteManifest.run(repoId, digest).changes === 0) return false;
    recordEvents(events);
    return true;
  });

  const unlink = db.transaction((repo: string, digests: readonly string[], before: number, events?: readonly EventRecord[]): Digest[] => {
    const repoId = q.repoId.get(repo)?.id;
    if (repoId === undefined) return [];
    const unlinked = digests.filter((digest) => {
      const link = q.linkRow.get(repoId, digest);
      if (!link || link.created_at >= before || q.referenced.get(repoId, digest)) return false;
      return q.unlink.run(repoId, digest).changes > 0;
    }) as Digest[];
    if (unlinked.length > 0 && events) recordEvents(eventsForUnlinked(events, unlinked));
    return unlinked;
  });

  const mark = db.transaction((digests: readonly string[]): BlobRow[] => {
    const marked: BlobRow[] = [];
    for (const digest of digests) {
      if (q.markIfUnreferenced.run(digest).changes > 0) marked.push({ digest: digest as Digest, size: q.blob.get(digest)!.size });
    }
    return marked;
  });

  const forget = db.transaction((digests: readonly string[]) => {
    for (const digest of digests) q.forget.run(digest);
  });

  // A read transaction: every statement of the batch sees the same snapshot.
  const blobUsers = db.transaction((digests: readonly Digest[]): Map<Digest, BlobUsers> => {
    const users = new Map<Digest, BlobUsers>();
    for (const digest of digests) {
      const row = q.blob.get(digest);
      if (row?.state !== "live") continue;
      users.set(digest, {
        size: row.size,
        links: q.linkUsers.all(digest).map((r) => ({ repository: r.name, createdAt: r.created_at })),
        references: q.referenceUsers.all(digest).map((r) => ({ repository: r.name, manifest: r.manifest_digest as Digest })),
        claimed: q.claimed.get(digest) !== undefined,
      });
    }
    return users;
  });

  return {
    async claimBlob(uploadId, digest, size) {
      return claimBlob.immediate(uploadId, digest, size);
    },
    async linkBlob(repo, digest, events) {
      return linkBlob.immediate(repo, digest, events);
    },
    async tryLock(name) {
      const holder = randomUUID();
      if (!tryLock.immediate(name, holder)) return undefined;
      heldHere.add(holder);
      return {
        async release() {
          heldHere.delete(holder);
          if (db.open) q.dropLock.run(name, holder);
        },
      };
    },
    async listManifestNodes(repo, page) {
      const repoId = q.repoId.get(repo)?.id;
      if (repoId === undefined) return [];
      return q.nodes.all(repoId, page.last ?? "", page.limit).map((row): ManifestNode => {
        const refs = q.refs.all(repoId, row.digest);
        return {
          digest: row.digest as Digest,
          ...(row.subject !== null ? { subject: row.subject as Digest } : {}),
          createdAt: row.created_at,
          tagged: row.tagged === 1,
          blobs: refs.filter((r) => r.kind === "blob").map((r) => r.digest as Digest),
          children: refs.filter((r) => r.kind === "manifest").map((r) => r.digest as Digest),
        };
      });
    },
    async deleteManifestIfUnreachable(repo, digest, createdBefore, events) {
      return deleteManifest.immediate(repo, digest, createdBefore, events);
    },
    async listLinks(repo, page) {
      const repoId = q.repoId.get(repo)?.id;
      if (repoId === undefined) return [];
      return q.links.all(repoId, page.last ?? "", page.limit).map((r) => ({
        digest: r.digest as Digest,
        size: r.size,
        createdAt: r.created_at,
      }));
    },
    async unlinkIfUnreferenced(repo, digests, createdBefore, events) {
      return unlink.immediate(repo, digests, createdBefore, events);
    },
    async listUnreferencedBlobs(page) {
      return q.unreferenced.all(page.last ?? "", page.limit);
    },
    async markBlobsDeleting(digests) {
      return mark.immediate(digests);
    },
    async listDeletingBlobs(limit) {
      return q.deleting.all(limit);
    },
    async forgetBlobs(digests) {
      forget.immediate(digests);
    },
    async blobUsers(digests) {
      return blobUsers(digests);
    },
  };
}
