/**
 * Shared set-up of the browse pages' browser tests: a Berth with access control, tag rules and a
 * namespace quota, images pushed by skopeo from OCI layouts, and users made through the admin API.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { run } from "../helpers/tools.js";
import { containersEnv, lowercaseTempDir, removeTree } from "../e2e/support.js";

export const ADMIN_PASSWORD = "admin-password-1";

const CONFIG = `
tagRules:
  - name: releases
    repositories: "team/*"
    immutable: ["v*"]
quotas:
  rules:
    - name: team
      namespace: team
      limit: 1GiB
`;

/** A Berth for the browse tests, with skopeo set up to push to it as admin. */
export interface BrowseBerth {
  berth: TestBerth;
  root: string;
  /** containers env (storage, auth file) for skopeo and podman. */
  env: Record<string, string>;
  /** skopeo copy of `tag` of the OCI layout at `dir` to `dest` (name:tag), as admin. */
  push(dir: string, tag: string, dest: string, all?: boolean): Promise<void>;
  /** An admin API call with Basic credentials; throws unless it answers 2xx. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  /** A user with a role in a namespace. */
  addMember(namespace: string, user: string, password: string, role: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startBrowseBerth(prefix: string, extraEnv: Record<string, string> = {}): Promise<BrowseBerth> {
  const root = await lowercaseTempDir(prefix);
  const configFile = join(root, "berth.yaml");
  await writeFile(configFile, CONFIG);
  const berth = await startBerth({ BERTH_AUTH: "true", BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD, BERTH_CONFIG: configFile, ...extraEnv });
  const env = await containersEnv(join(root, "containers"));
  const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64")}`;
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${berth.url}${path}`, {
      method,
      headers: { Authorization: basic, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  return {
    berth,
    root,
    env,
    async push(dir, tag, dest, all = false) {
      await run(
        "skopeo",
        ["copy", "--preserve-digests", ...(all ? ["--all"] : []), "--dest-tls-verify=false", "--dest-creds", `admin:${ADMIN_PASSWORD}`, `oci:${dir}:${tag}`, `docker://${berth.host}/${dest}`],
        { env, timeoutMs: 60_000 },
      );
    },
    admin,
    async addMember(namespace, user, password, role) {
      await admin("POST", "/api/v1/users", { name: user, password });
      await admin("PUT", `/api/v1/namespaces/${namespace}/members/${user}`, { role });
    },
    async stop() {
      await berth.stop();
      await removeTree(root);
    },
  };
}

