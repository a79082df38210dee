import assert from "node:assert/strict";
import { Client, type Reply, type RequestOptions } from "./client.js";

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A client that sends `authorization` with every request (Basic on /v2/ and /api/v1/ alike). */
export class AuthClient extends Client {
  constructor(base: string, readonly authorization?: string) {
    super(base);
  }
  override request(method: string, target: string, options: RequestOptions = {}): Promise<Reply> {
    const headers = { ...options.headers, ...(this.authorization ? { Authorization: this.authorization } : {}) };
    return super.request(method, target, { ...options, headers });
  }
  /** A JSON request to /api/v1/. */
  api(method: string, path: string, body?: unknown): Promise<Reply> {
    return this.request(method, `/api/v1/${path}`, body === undefined ? {} : { headers: { "Content-Type": "application/json" }, body: Buffer.from(JSON.stringify(body)) });
  }
}

/** Declares a namespace through the admin API (visibility, and an owner, who becomes its member with the owner role). */
export async function declareNamespace(admin: AuthClient, name: string, visibility: "public" | "private" = "private", owner?: string): Promise<void> {
  const res = await admin.api("PUT", `namespaces/${name}`, { visibility, ...(owner ? { owner } : {}) });
  assert.equal(res.status, 200, res.text());
}

/** Creates a user through the admin API, a member of a declared namespace with `role` when `member` is given. */
export async function createUser(admin: AuthClient, name: string, password: string, member?: { namespace: string; role: string }): Promise<void> {
  const created = await admin.api("POST", "users", { name, password, admin: false });
  assert.equal(created.status, 201, created.text());
  if (!member) return;
  const added = await admin.api("PUT", `namespaces/${member.namespace}/members/${name}`, { role: member.role });
  assert.equal(added.status, 200, added.text());
}
