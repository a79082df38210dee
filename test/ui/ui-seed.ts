/**
 * A registry that looks used, for the page, layout and screenshot tests: namespaces with owners
 * and members, users, robot tokens, images with several tags, a multi-platform index, a verified
 * signature, an untagged manifest and a garbage collection run.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Digest } from "../../src/oci/digest.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { createCosignKeyPair } from "../helpers/cosign-keys.js";
import { clientOf } from "../helpers/push.js";
import { sigstoreBundle } from "../helpers/signatures.js";
import { AuthClient, basic, createUser, declareNamespace } from "../http/auth-client.js";
import { pushIndex, pushPlainImage } from "./ui-content.js";

export const ADMIN = { username: "admin", password: "admin-password-1" };

export interface Seeded {
  berth: TestBerth;
  /** The repository with tags, an index and a signature. */
  repo: string;
  imageDigest: string;
  indexDigest: string;
  signatureDigest: string;
  stop(): Promise<void>;
}

/** Starts Berth with access control and a signature policy, and fills it. */
export async function startSeededBerth(env: Record<string, string> = {}): Promise<Seeded> {
  const dir = await mkdtemp(join(tmpdir(), "berth-ui-seed-"));
  const keys = await createCosignKeyPair(join(dir, "keys"));
  await writeFile(join(dir, "berth.yaml"), JSON.stringify({ signatures: { policies: [{ repositories: ["team/*"], mode: "report", cosignKeys: [keys.publicKeyPath] }] } }));
  const berth = await startBerth({ BERTH_CONFIG: join(dir, "berth.yaml"), BERTH_AUTH: "true", BERTH_ADMIN_PASSWORD: ADMIN.password, BERTH_DELETE_ENABLED: "true", ...env });
  const admin = new AuthClient(berth.url, basic(ADMIN.username, ADMIN.password));
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await admin.api(method, path, body);
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text()}`);
    return res;
  };
  await createUser(admin, "alice", "alice-password-1");
  await declareNamespace(admin, "team", "private", "alice");
  await declareNamespace(admin, "library", "public");
  await createUser(admin, "bob", "bob-password-1", { namespace: "team", role: "reader" });
  await createUser(admin, "carol", "carol-password-1", { namespace: "team", role: "writer" });
  await api("POST", "tokens", { name: "ci-push", user: "alice", scopes: ["repository:team/*:pull,push"] });
  await api("POST", "me/tokens", { name: "laptop", scopes: ["repository:*:pull"] });

  const client = clientOf(berth.url, ADMIN);
  let imageDigest: string;
  let indexDigest: string;
  let signatureDigest: string;
  try {
    for (const tag of ["3.19", "3.20", "latest"]) await pushPlainImage(client, "library/alpine", tag, { layers: 1 });
    await pushPlainImage(client, "team/api", "2.4.1", { layers: 3 });
    const repo = "team/web";
    for (const tag of ["1.0", "1.1"]) await pushPlainImage(client, repo, tag);
    const image = await pushPlainImage(client, repo, "1.2", {
      layers: 3,
      annotations: { "org.opencontainers.image.source": "https://example.com/team/web", "org.opencontainers.image.description": "The team's web front end" },
    });
    imageDigest = image.digest;
    await client.putManifest(repo, "latest", image.manifest, image.mediaType);
    indexDigest = (await pushIndex(client, repo, "multi", [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64", variant: "v8" }])).digest;
    const bundle = await sigstoreBundle({ subject: imageDigest as Digest, privateKey: keys.privateKey, publicKey: keys.publicKey });
    for (const blob of bundle.blobs.values()) await client.pushBlob(repo, blob);
    signatureDigest = await client.putManifest(repo, bundle.artifact.digest, bundle.artifact.content, bundle.artifact.mediaType);
    // An untagged manifest, and a deleted tag whose image the GC run then removes.
    await pushPlainImage(client, repo, undefined, { layers: 1 });
    await pushPlainImage(client, "team/old", "gone", { layers: 1 });
    await client.deleteManifest("team/old", "gone");
  } finally {
    client.close();
  }
  const gc = await admin.request("POST", "/api/v1/gc?wait=true&deleteUntagged=false");
  assert.equal(gc.status, 200, gc.text());
  return {
    berth,
    repo: "team/web",
    imageDigest,
    indexDigest,
    signatureDigest,
    async stop() {
      await berth.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
