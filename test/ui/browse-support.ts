/**
 * Shared set-up of the browse pages' browser tests: a Berth with access control, tag rules and a
 * namespace quota, images pushed by skopeo from OCI layouts, and users made through the admin API.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeLayer, MediaTypes, sha256 } from "../helpers/fixtures.js";
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


/** Markup and script URLs a hostile pusher would put anywhere the UI shows pushed text. */
export const HOSTILE = {
  script: "<script>alert('script')</script>",
  img: "<img src=x onerror=alert('img')>",
  js: "javascript:alert('js')",
};

/**
 * An OCI layout (tag `evil`) whose config labels, environment, entrypoint, author and history,
 * and whose manifest and layer annotations, carry HOSTILE; the layer holds a file named with markup.
 */
export async function writeHostileLayout(dir: string): Promise<{ manifestDigest: string }> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const blob = async (content: Buffer) => {
    const digest = sha256(content);
    await writeFile(join(dir, "blobs", "sha256", digest.slice("sha256:".length)), content);
    return { digest, size: content.length };
  };
  const layerBytes = makeLayer({ [`${HOSTILE.img}.txt`]: `${HOSTILE.script}\n` });
  const diffId = `sha256:${createHash("sha256").update(gunzipSync(layerBytes)).digest("hex")}`;
  const layer = await blob(layerBytes);
  const config = await blob(
    Buffer.from(
      JSON.stringify({
        created: "2026-01-01T00:00:00Z",
        author: HOSTILE.script,
        architecture: "amd64",
        os: "linux",
        config: {
          Env: [`EVIL=${HOSTILE.img}`],
          Entrypoint: ["/bin/sh", "-c", HOSTILE.script],
          Labels: { [HOSTILE.script]: HOSTILE.img, "org.opencontainers.image.url": HOSTILE.js, "org.opencontainers.image.source": "https://example.com/evil" },
        },
        rootfs: { type: "layers", diff_ids: [diffId] },
        history: [{ created: "2026-01-01T00:00:00Z", created_by: `/bin/sh -c echo '${HOSTILE.script}'`, comment: HOSTILE.img }],
      }),
    ),
  );
  const manifest = await blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, ...config },
        layers: [{ mediaType: MediaTypes.ociLayerGzip, ...layer, annotations: { "org.opencontainers.image.title": HOSTILE.img } }],
        annotations: { [HOSTILE.img]: HOSTILE.script, "org.opencontainers.image.documentation": HOSTILE.js },
      }),
    ),
  );
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [{ mediaType: MediaTypes.ociManifest, ...manifest, annotations: { "org.opencontainers.image.ref.name": "evil" } }],
    }),
  );
  return { manifestDigest: manifest.digest };
}
