import { isDeepStrictEqual } from "node:util";
import type { AuditEvent, AuthStore, TokenRecord } from "../storage/auth-store.js";

export type AccessControlKind =
  | "users"
  | "namespaces"
  | "members"
  | "tokens"
  | "refreshTokens"
  | "visibilities"
  | "signingKeys"
  | "auditEvents";

export interface AccessControlReport {
  /** Records written to the target by this run (absent there, or different and replaced), by kind. */
  written: Record<AccessControlKind, number>;
  /** Source records the target already held exactly as merged (nothing written), by kind. */
  present: Record<AccessControlKind, number>;
  /** Target records that differed from the source's and were overwritten by them (the source wins). */
  replaced: string[];
  /** Records only the target holds: kept as they are, listed so that they are not a surprise. */
  targetOnly: string[];
}

const KINDS: readonly AccessControlKind[] = ["users", "namespaces", "members", "tokens", "refreshTokens", "visibilities", "signingKeys", "auditEvents"];
const AUDIT_PAGE = 1000;
const LISTED = 50;

/**
 * Copies access control from `source` to `target`: users (password hashes as they are), namespaces,
 * members, robot tokens (secret hashes as they are), refresh tokens, repository visibility, signing
 * keys (so the source's tokens keep verifying) and the audit log. The source is only read.
 *
 * The target may already hold some of it: records are merged by their identity (user and namespace
 * by name, member by namespace and user, token and refresh token by id, visibility by repository,
 * key by kid) and the source's record wins, with two exceptions that keep security decisions made
 * on the target: a revocation or key retirement is never undone, and a token's last use never moves
 * back. A live target token with the name of a live source token (another id) is revoked, since a
 * name has one live token. Nothing the target alone holds is deleted; it is listed in `targetOnly`.
 * Audit events are matched by content (every field), counting duplicates, so a rerun appends none.
 *
 * Each write is a keyed upsert and each audit page one transaction, so an interrupted copy resumes
 * by running again; what was written is read back and compared, differences going to `problems`.
 */
export async function migrateAccessControl(source: AuthStore, target: AuthStore, problems: string[]): Promise<AccessControlReport> {
  const zero = () => Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<AccessControlKind, number>;
  const report: AccessControlReport = { written: zero(), present: zero(), replaced: [], targetOnly: [] };
  const now = Date.now();

  /** Writes `expected` unless the target's record equals it; then reads it back to verify. */
  async function put<T>(kind: AccessControlKind, label: string, current: T | undefined, expected: T, write: () => Promise<void>, read: () => Promise<T | undefined>): Promise<void> {
    if (current !== undefined && isDeepStrictEqual(current, expected)) {
      report.present[kind]++;
      return;
    }
    if (current !== undefined) report.replaced.push(label);
    await write();
    report.written[kind]++;
    if (!isDeepStrictEqual(await read(), expected)) problems.push(`${label}: the target does not hold what was written`);
  }
  /** Lists the target's records whose key the source lacks. */
  const targetOnly = <T>(targetRecords: Map<string, T>, sourceKeys: Iterable<string>, label: (r: T) => string) => {
    const inSource = new Set(sourceKeys);
    for (const [key, r] of targetRecords) if (!inSource.has(key)) report.targetOnly.push(label(r));
  };
  const byKey = <T>(records: T[], key: (r: T) => string) => new Map(records.map((r) => [key(r), r]));

  const users = await source.listUsers();
  const targetUsers = byKey(await target.listUsers(), (u) => u.name);
  for (const u of users) {
    await put("users", `user ${u.name}`, targetUsers.get(u.name), u, () => target.importUser(u), () => target.getUser(u.name));
  }
  targetOnly(targetUsers, users.map((u) => u.name), (u) => `user ${u.name}`);

  const namespaces = await source.listNamespaces();
  const targetNamespaces = byKey(await target.listNamespaces(), (n) => n.name);
  for (const ns of namespaces) {
    await put("namespaces", `namespace ${ns.name}`, targetNamespaces.get(ns.name), ns, () => target.importNamespace(ns), () => target.getNamespace(ns.name));
    const members = await source.listMembers(ns.name);
    const targetMembers = byKey(await target.listMembers(ns.name), (m) => m.user);
    for (const m of members) {
      const read = async () => (await target.listMembers(ns.name)).find((t) => t.user === m.user);
      await put("members", `member ${m.user} of ${ns.name}`, targetMembers.get(m.user), m, () => target.setMember(ns.name, m.user, m.role), read);
    }
    targetOnly(targetMembers, members.map((m) => m.user), (m) => `member ${m.user} of ${ns.name}`);
  }
  targetOnly(targetNamespaces, namespaces.map((n) => n.name), (n) => `namespace ${n.name}`);

  const tokens = await source.listTokens();
  const targetTokens = byKey(await target.listTokens(), (t) => t.id);
  const liveName = (t: TokenRecord) => JSON.stringify([t.owner, t.name]);
  const targetLive = byKey([...targetTokens.values()].filter((t) => t.revokedAt === undefined), liveName);
  for (const t of tokens) {
    const current = targetTokens.get(t.id);
    const expected = { ...t };
    const revokedAt = t.revokedAt ?? current?.revokedAt;
    if (revokedAt !== undefined) expected.revokedAt = revokedAt;
    const lastUsedAt = Math.max(t.lastUsedAt ?? -Infinity, current?.lastUsedAt ?? -Infinity);
    if (lastUsedAt > -Infinity) expected.lastUsedAt = lastUsedAt;
    const rival = targetLive.get(liveName(t));
    if (rival && rival.id !== t.id && expected.revokedAt === undefined) {
      await target.revokeToken(t.owner, t.name, now);
      report.replaced.push(`token ${t.owner}/${t.name} (id ${rival.id}): revoked, the source's live token of that name takes its place`);
      targetLive.delete(liveName(t));
    }
    await put("tokens", `token ${t.owner}/${t.name} (id ${t.id})`, current, expected, () => target.importToken(expected), () => target.getToken(t.id));
  }
  targetOnly(targetTokens, tokens.map((t) => t.id), (t) => `token ${t.owner}/${t.name} (id ${t.id})`);

  const refreshTokens = await source.listRefreshTokens();
  const targetRefresh = byKey(await target.listRefreshTokens(), (t) => t.id);
  for (const t of refreshTokens) {
    const current = targetRefresh.get(t.id);
    const revokedAt = t.revokedAt ?? current?.revokedAt;
    const expected = revokedAt === undefined ? t : { ...t, revokedAt };
    await put("refreshTokens", `refresh token ${t.id} of ${t.user}`, current, expected, () => target.importRefreshToken(expected), () => target.getRefreshToken(t.id));
  }

  const visibilities = await source.listRepositoryVisibilities();
  const targetVisibilities = byKey(await target.listRepositoryVisibilities(), (v) => v.repository);
  for (const v of visibilities) {
    const read = async () => {
      const visibility = await target.getRepositoryVisibility(v.repository);
      return visibility && { repository: v.repository, visibility };
    };
    await put("visibilities", `visibility of ${v.repository}`, targetVisibilities.get(v.repository), v, () => target.setRepositoryVisibility(v.repository, v.visibility), read);
  }
  targetOnly(targetVisibilities, visibilities.map((v) => v.repository), (v) => `visibility of ${v.repository} (${v.visibility})`);

  const keys = await source.listSigningKeys();
  const targetKeys = byKey(await target.listSigningKeys(), (k) => k.kid);
  for (const k of keys) {
    const current = targetKeys.get(k.kid);
    const retiredAt = k.retiredAt ?? current?.retiredAt;
    const expected = retiredAt === undefined ? k : { ...k, retiredAt };
    const read = async () => (await target.listSigningKeys()).find((x) => x.kid === k.kid);
    await put("signingKeys", `signing key ${k.kid}`, current, expected, () => target.importSigningKey(expected), read);
  }
  targetOnly(targetKeys, keys.map((k) => k.kid), (k) => `signing key ${k.kid}`);

  await copyAudit(source, target, report, problems);

  if (report.targetOnly.length > LISTED) {
    const more = report.targetOnly.length - LISTED;
    report.targetOnly = [...report.targetOnly.slice(0, LISTED), `… and ${more} more`];
  }
  return report;
}

/** The event as one comparable string: every field, absent ones as null. */
function auditKey(e: AuditEvent): string {
  return JSON.stringify([e.time, e.actor ?? null, e.action, e.repository ?? null, e.target ?? null, e.result, e.source ?? null, e.detail ?? null]);
}

/** How many events of each content the store holds with `time` in [from, to]. */
async function auditCounts(store: AuthStore, from: number, to: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let after = from - 1;
  for (;;) {
    const page = await store.exportAudit(after, AUDIT_PAGE);
    for (const e of page) {
      if (e.time > to) return counts;
      counts.set(auditKey(e), (counts.get(auditKey(e)) ?? 0) + 1);
    }
    if (page.length === 0) return counts;
    after = page.at(-1)!.time;
  }
}

/**
 * Copies the audit log a page of whole timestamps at a time: the target's events at those times are
 * counted by content, and only the source's events beyond those counts are appended, in their order.
 */
async function copyAudit(source: AuthStore, target: AuthStore, report: AccessControlReport, problems: string[]): Promise<void> {
  let after: number | undefined;
  for (;;) {
    const page = await source.exportAudit(after, AUDIT_PAGE);
    if (page.length === 0) return;
    const from = page[0]!.time;
    const to = page.at(-1)!.time;
    const held = await auditCounts(target, from, to);
    const missing: AuditEvent[] = [];
    for (const e of page) {
      const n = held.get(auditKey(e)) ?? 0;
      if (n > 0) held.set(auditKey(e), n - 1);
      else missing.push(e);
    }
    report.present.auditEvents += page.length - missing.length;
    if (missing.length > 0) {
      await target.importAudit(missing);
      report.written.auditEvents += missing.length;
      const now = await auditCounts(target, from, to);
      const wanted = new Map<string, number>();
      for (const e of page) wanted.set(auditKey(e), (wanted.get(auditKey(e)) ?? 0) + 1);
      for (const [key, n] of wanted) {
        if ((now.get(key) ?? 0) < n) problems.push(`audit event ${key}: the target holds fewer than the source after the copy`);
      }
    }
    after = to;
  }
}
