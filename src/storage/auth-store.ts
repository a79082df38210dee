/**
 * Who may do what: users, robot tokens, namespaces and their members, repository visibility,
 * refresh tokens, token-signing keys and the audit log. Kept apart from MetadataStore because
 * it changes on a different rhythm and a registry without access control never opens it.
 *
 * Secrets are never stored: passwords and token secrets arrive here already hashed. Every
 * method is atomic. Names are compared exactly (byte-wise); listings are ordered by name.
 */
export interface AuthStore {
  /** Creates a user; resolves false when the name is taken. */
  createUser(user: UserRecord): Promise<boolean>;
  getUser(name: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** Deletes a user with their memberships, robot tokens and refresh tokens; false when absent. */
  deleteUser(name: string): Promise<boolean>;
  setPassword(name: string, passwordHash: string): Promise<boolean>;

  /** Creates a robot token; resolves false when its owner already has a token of that name. */
  createToken(token: TokenRecord): Promise<boolean>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  listTokens(owner?: string): Promise<TokenRecord[]>;
  /** Marks the owner's token `name` revoked at `at`; false when there is no such live token. */
  revokeToken(owner: string, name: string, at: number): Promise<boolean>;
  touchToken(id: string, at: number): Promise<void>;

  /** Creates or updates a namespace (its visibility, its recorded owner). */
  putNamespace(ns: NamespaceRecord): Promise<void>;
  getNamespace(name: string): Promise<NamespaceRecord | undefined>;
  listNamespaces(): Promise<NamespaceRecord[]>;
  /**
   * Deletes namespace `name`'s access-control records in one transaction: the namespace with its
   * members, and the visibility override of every repository in it (named `name` or under
   * `name/`). Robot tokens are untouched (their scopes are globs, not references). Resolves
   * whether anything was deleted.
   */
  deleteNamespace(name: string): Promise<boolean>;
  /** Sets `user`'s role in `namespace` (replacing any previous role); the namespace must exist. */
  setMember(namespace: string, user: string, role: Role): Promise<void>;
  removeMember(namespace: string, user: string): Promise<boolean>;
  listMembers(namespace: string): Promise<{ user: string; role: Role }[]>;
  /** The user's role in every namespace they belong to. */
  rolesOf(user: string): Promise<{ namespace: string; role: Role }[]>;

  /** Per-repository visibility override; undefined clears it (the namespace's applies). */
  setRepositoryVisibility(repository: string, visibility: Visibility | undefined): Promise<void>;
  getRepositoryVisibility(repository: string): Promise<Visibility | undefined>;
  listRepositoryVisibilities(): Promise<{ repository: string; visibility: Visibility }[]>;

  createRefreshToken(token: RefreshTokenRecord): Promise<void>;
  getRefreshToken(id: string): Promise<RefreshTokenRecord | undefined>;
  /** Revokes every refresh token of `user` (password change, deletion); resolves how many. */
  revokeRefreshTokens(user: string, at: number): Promise<number>;

  /** Signing keys, newest first; retired keys stay listed (for verification) until deleted. */
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Adds a key unless one with its kid exists; resolves whether it was added. */
  addSigningKey(key: SigningKeyRecord): Promise<boolean>;
  retireSigningKey(kid: string, at: number): Promise<void>;
  deleteSigningKey(kid: string): Promise<void>;

  /** Appends one audit event; the log is never updated or deleted through this interface. */
  appendAudit(event: AuditEvent): Promise<void>;
  /** Events matching every given filter, newest first, at most `limit`. */
  queryAudit(filter: AuditFilter): Promise<AuditEvent[]>;

  // Exact copies, for `berth migrate`: each record is written with every field as given, keyed by
  // its identity, so writing it again changes nothing. Hashes are stored as they come (a password
  // or token secret is never hashed twice, and never seen in clear).

  /**
   * Creates the user or, when one has the name, sets its password hash, admin flag and creation
   * time to the given ones. Unlike deleting and re-creating, the user's memberships, robot tokens
   * and refresh tokens are kept.
   */
  importUser(user: UserRecord): Promise<void>;
  /**
   * Creates the robot token or replaces every field of the one with its id (`lastUsedAt` included,
   * so it may move back). Its owner must exist. Rejects, writing nothing, when the token is live
   * (no `revokedAt`) and its owner has another live token of that name.
   */
  importToken(token: TokenRecord): Promise<void>;
  /** Creates or replaces the namespace, its creation time included (putNamespace keeps that). */
  importNamespace(ns: NamespaceRecord): Promise<void>;
  /** Every refresh token, revoked and expired ones included, by id. */
  listRefreshTokens(): Promise<RefreshTokenRecord[]>;
  /** Creates or replaces the refresh token with its id, every field as given; its user must exist. */
  importRefreshToken(token: RefreshTokenRecord): Promise<void>;
  /** Creates or replaces the signing key with its kid, every field as given (`retiredAt` included). */
  importSigningKey(key: SigningKeyRecord): Promise<void>;
  /**
   * Audit events with `time` greater than `after` (every event when undefined), oldest first and,
   * within one time, in the order they were appended. A page holds at least `limit` events when
   * there are that many, and never splits the events of one `time` between two pages, so it may
   * hold more; the next page is the one after the last event's time. Empty at the end.
   */
  exportAudit(after: number | undefined, limit: number): Promise<AuditEvent[]>;
  /** Appends `events` in the order given, all of them or (on failure) none: one transaction. */
  importAudit(events: readonly AuditEvent[]): Promise<void>;

  close(): Promise<void>;
}

export type Role = "reader" | "writer" | "maintainer" | "owner";
export type Visibility = "public" | "private";

export interface UserRecord {
  name: string;
  /** `scrypt$N$r$p$salt$hash` (base64): see auth/passwords.ts. */
  passwordHash: string;
  admin: boolean;
  createdAt: number;
}

export interface TokenRecord {
  /** Public id, the first part of the secret shown once (`berth_<id>_<secret>`). */
  id: string;
  name: string;
  owner: string;
  secretHash: string;
  /** Scopes in the Docker grammar with globs, e.g. `repository:team/*:pull,push`. */
  scopes: string[];
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
  lastUsedAt?: number;
}

export interface NamespaceRecord {
  name: string;
  visibility: Visibility;
  owner?: string;
  createdAt: number;
}

export interface RefreshTokenRecord {
  id: string;
  user: string;
  clientId: string;
  secretHash: string;
  createdAt: number;
  expiresAt: number;
  revokedAt?: number;
}

export interface SigningKeyRecord {
  kid: string;
  algorithm: "ES256" | "RS256";
  /** The private key as a JWK JSON string. */
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  retiredAt?: number;
}

export interface AuditEvent {
  time: number;
  /** User name, `token:<owner>/<name>`, or undefined for anonymous. */
  actor?: string;
  /** `login`, `token.issue`, `push`, `tag.move`, `delete`, `denied`, `user.add`, `policy.change`, … */
  action: string;
  repository?: string;
  /** What the action was about: a tag, a digest, a user, a namespace. */
  target?: string;
  result: "ok" | "denied" | "failed";
  source?: string;
  detail?: Record<string, unknown>;
}

export interface AuditFilter {
  actor?: string;
  repository?: string;
  action?: string;
  since?: number;
  until?: number;
  limit: number;
}
