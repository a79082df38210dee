// The registry client (src/client) against real registries: Berth open and with access control
// (the Docker token flow), and distribution with htpasswd (Basic only). Every push is read back;
// the request log (`observe`) shows which requests a push made.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createRegistryClient, RegistryClientError, type Credentials, type RegistryClient } from "../../src/client/registry-client.js";
import { digestOf, type Digest } from "../../src/oci/digest.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage, makeLayer } from "../helpers/fixtures.js";
import { pushImage } from "../helpers/push.js";
import { skipUnlessTools } from "../helpers/tools.js";
import { startDistribution, type Distribution } from "../helpers/upstream-distribution.js";

/** A client whose every response lands in `log` as `METHOD path status`. */
function loggedClient(url: string, credentials?: Credentials): { client: RegistryClient; log: string[] } {
  const log: string[] = [];
  const observe = (res: IncomingMessage) => {
    const req = (res as IncomingMessage & { req: { method: string; path: string } }).req;
    log.push(`${req.method} ${req.path.split("?")[0]!.replace(/\/blobs\/uploads\/[^/]+$/, "/blobs/uploads/ID")} ${res.statusCode}`);
  };
  return { client: createRegistryClient({ url, timeoutMs: 10_000, observe, ...(credentials ? { credentials } : {}) }), log };
}

/** A stream of `data` in pieces of `piece` bytes, as a file or a socket would give it. */
const streamOf = (data: Buffer, piece = 1000) =>
  Readable.from((function* () {
    for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
  })());

const sha256 = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}` as Digest;

describe("registry client against Berth", () => {
  let berth: TestBerth;
  let client: RegistryClient;
  let log: string[];
  const repo = () => `client/${randomBytes(4).toString("hex")}`;

  before(async () => {
    berth = await startBerth();
    ({ client, log } = loggedClient(berth.url));
  });
  after(async () => {
    client.close();
    await berth.stop();
  });

  it("pushes a blob in one PUT after a HEAD that found nothing, and pulls it back whole, by range and by size", async () => {
    const name = repo();
    const data = randomBytes(5000);
    log.length = 0;
    assert.equal(await client.pushBlob(name, data), digestOf(data));
    assert.deepEqual(log, [`HEAD /v2/${name}/blobs/${digestOf(data)} 404`, `POST /v2/${name}/blobs/uploads/ 202`, `PUT /v2/${name}/blobs/uploads/ID 201`]);
    assert.deepEqual(await client.blobContent(name, digestOf(data)), data);
    assert.equal(await client.blobSize(name, digestOf(data)), 5000);
    const part = await client.blob(name, digestOf(data), { start: 1000, end: 1999 });
    assert.equal(part?.start, 1000);
    assert.equal(part?.size, 1000);
    const chunks: Buffer[] = [];
    for await (const c of part!.stream as AsyncIterable<Buffer>) chunks.push(c);
    assert.deepEqual(Buffer.concat(chunks), data.subarray(1000, 2000));

    log.length = 0;
    await client.pushBlob(name, data);
    assert.deepEqual(log, [`HEAD /v2/${name}/blobs/${digestOf(data)} 200`], "a blob the registry has is not sent again");
  });

  it("pushes in chunks: PATCHes of chunkSize with Content-Range, from bytes and from a stream", async () => {
    const name = repo();
    const data = randomBytes(2500);
    log.length = 0;
    await client.pushBlob(name, data, { chunkSize: 1000 });
    assert.deepEqual(log.filter((l) => l.startsWith("PATCH")), Array(3).fill(`PATCH /v2/${name}/blobs/uploads/ID 202`));
    assert.deepEqual(await client.blobContent(name, digestOf(data)), data);

    const streamed = randomBytes(10_000);
    log.length = 0;
    // 700-byte pieces from the stream, 4096-byte chunks on the wire: 3 PATCHes.
    const digest = await client.pushBlob(name, { size: streamed.length, digest: sha256(streamed), open: () => streamOf(streamed, 700) }, { chunkSize: 4096 });
    assert.equal(log.filter((l) => l.startsWith("PATCH")).length, 3);
    assert.deepEqual(await client.blobContent(name, digest), streamed);
  });

  it("pushes a stream: in one PUT when size and digest are known, in one streamed PATCH hashed on the way when not", async () => {
    const name = repo();
    const known = randomBytes(300_000);
    log.length = 0;
    await client.pushBlob(name, { size: known.length, digest: sha256(known), open: () => streamOf(known, 64 * 1024) });
    assert.deepEqual(log.slice(1), [`POST /v2/${name}/blobs/uploads/ 202`, `PUT /v2/${name}/blobs/uploads/ID 201`]);
    assert.deepEqual(await client.blobContent(name, sha256(known)), known);

    const unknown = randomBytes(300_000);
    log.length = 0;
    const digest = await client.pushBlob(name, { open: () => streamOf(unknown, 64 * 1024) });
    assert.equal(digest, sha256(unknown), "the digest the client computed while sending");
    assert.deepEqual(log, [`POST /v2/${name}/blobs/uploads/ 202`, `PATCH /v2/${name}/blobs/uploads/ID 202`, `PUT /v2/${name}/blobs/uploads/ID 201`]);
    assert.deepEqual(await client.blobContent(name, digest), unknown);
  });

  it("refuses bytes that do not match the digest given with DIGEST_INVALID, and cancels the upload", async () => {
    const name = repo();
    const data = randomBytes(1000);
    log.length = 0;
    await assert.rejects(
      client.pushBlob(name, { size: data.length, digest: sha256(randomBytes(10)), open: () => streamOf(data) }),
      (err: RegistryClientError) => err instanceof RegistryClientError && err.kind === "status" && err.status === 400 && err.code === "DIGEST_INVALID",
    );
    assert.match(log.at(-1)!, new RegExp(`^DELETE /v2/${name}/blobs/uploads/ID (204|404)$`));
    assert.equal(await client.blobSize(name, digestOf(data)), undefined, "nothing stored");
  });

  it("puts manifests by tag and by digest, and reads them by either, with GET (bytes checked) and HEAD", async () => {
    const name = repo();
    const image = makeImage({ layers: [makeLayer({ "a.txt": randomBytes(8).toString("hex") })] });
    const digest = await pushImage(client, name, "v1", image);
    assert.equal(digest, image.manifestDigest);
    for (const ref of ["v1", image.manifestDigest]) {
      const got = await client.manifest(name, ref);
      assert.deepEqual(got, { digest, mediaType: image.manifestMediaType, size: image.manifest.length, content: image.manifest });
      assert.deepEqual(await client.manifest(name, ref, { method: "HEAD" }), { digest, mediaType: image.manifestMediaType, size: image.manifest.length });
    }
    const other = makeImage({ layers: [makeLayer({ "b.txt": randomBytes(8).toString("hex") })] });
    for (const blob of [...other.layers, other.config]) await client.pushBlob(name, blob);
    assert.equal(await client.putManifest(name, other.manifestDigest, other.manifest, other.manifestMediaType), other.manifestDigest);
    await client.putManifest(name, "v2", other.manifest, other.manifestMediaType);
    assert.deepEqual(await client.tags(name), { name, tags: ["v1", "v2"] });
    assert.deepEqual(await client.tags(name, { n: 1 }), { name, tags: ["v1"], next: "v1" });
    await client.deleteManifest(name, other.manifestDigest);
    assert.equal(await client.manifest(name, "v2"), undefined);
  });

  it("answers undefined for what the registry does not have (404)", async () => {
    const missing = digestOf(randomBytes(10));
    assert.equal(await client.manifest("client/none", "latest"), undefined);
    assert.equal(await client.manifest("client/none", missing, { method: "HEAD" }), undefined);
    assert.equal(await client.blob("client/none", missing), undefined);
    assert.equal(await client.blobContent("client/none", missing), undefined);
    assert.equal(await client.blobSize("client/none", missing), undefined);
    assert.equal(await client.tags("client/none"), undefined);
  });

  it("turns error bodies into RegistryClientError with the status and the OCI code", async () => {
    const name = repo();
    const image = makeImage();
    await assert.rejects(client.putManifest(name, "v1", image.manifest, image.manifestMediaType), { name: "RegistryClientError", kind: "status", status: 400, code: "MANIFEST_BLOB_UNKNOWN" });
    await assert.rejects(client.putManifest(name, "v1", Buffer.from("{not json"), image.manifestMediaType), { status: 400, code: "MANIFEST_INVALID" });
    await assert.rejects(client.deleteManifest(name, digestOf(randomBytes(10))), { status: 404, code: "MANIFEST_UNKNOWN" });
    await assert.rejects(client.manifest("client/-bad-", "v1"), { status: 400, code: "NAME_INVALID" });
  });

  it("mounts a blob from another repository without sending it; offers false (and cancels the upload) when there is nothing to mount", async () => {
    const from = repo();
    const to = repo();
    const data = randomBytes(2000);
    await client.pushBlob(from, data);
    log.length = 0;
    assert.equal(await client.mountBlob(to, digestOf(data), from), true);
    assert.deepEqual(log, [`POST /v2/${to}/blobs/uploads/ 201`]);
    assert.deepEqual(await client.blobContent(to, digestOf(data)), data);

    const elsewhere = repo();
    log.length = 0;
    await client.pushBlob(elsewhere, data, { mountFrom: from });
    assert.deepEqual(log, [`HEAD /v2/${elsewhere}/blobs/${digestOf(data)} 404`, `POST /v2/${elsewhere}/blobs/uploads/ 201`], "pushBlob mounts first too");

    log.length = 0;
    assert.equal(await client.mountBlob(to, digestOf(randomBytes(5)), from), false);
    assert.deepEqual(log, [`POST /v2/${to}/blobs/uploads/ 202`, `DELETE /v2/${to}/blobs/uploads/ID 204`]);
  });
});

describe("registry client against Berth with access control (the Docker token flow)", () => {
  let berth: TestBerth;
  const ADMIN = { username: "admin", password: "admin-password" };
  const image = makeImage({ layers: [makeLayer({ "team.txt": "team" })] });
  const api = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${berth.url}/api/v1/${path}`, {
      method,
      headers: { Authorization: `Basic ${Buffer.from("admin:admin-password").toString("base64")}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.ok(res.status < 300, `${method} /api/v1/${path}: ${res.status} ${await res.text()}`);
  };

  before(async () => {
    berth = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: ADMIN.password });
    await api("POST", "users", { name: "rita", password: "rita-password" });
    await api("PUT", "namespaces/team", { visibility: "private", owner: "admin" });
    await api("PUT", "namespaces/oss", { visibility: "public", owner: "admin" });
    await api("PUT", "namespaces/team/members/rita", { role: "reader" });
  });
  after(() => berth.stop());

  it("pushes with credentials through bearer tokens, one token per scope, reused until it expires", async () => {
    const { client, log } = loggedClient(berth.url, ADMIN);
    try {
      await pushImage(client, "team/app", "v1", image);
      assert.equal(log[0], `HEAD /v2/team/app/blobs/${image.layerDigests[0]} 401`, "the first request learns the challenge");
      assert.equal(log.filter((l) => l.endsWith(" 401")).length, 1);
      assert.equal(client.tokensFetched, 1, "repository:team/app:pull,push for every request of the push");
      assert.deepEqual((await client.manifest("team/app", "v1"))?.content, image.manifest);
      assert.equal(client.tokensFetched, 2, "repository:team/app:pull is another scope");
      await client.blobContent("team/app", image.configDigest as Digest);
      await client.tags("team/app");
      assert.equal(client.tokensFetched, 2, "and is reused");
      await pushImage(client, "oss/lib", "v1", image);
      assert.equal(client.tokensFetched, 3);
    } finally {
      client.close();
    }
  });

  it("pulls public content with an anonymous token, and is refused private content and pushes with the registry's status and code", async () => {
    const anonymous = createRegistryClient({ url: berth.url, timeoutMs: 10_000 });
    try {
      await anonymous.ping().catch(() => {}); // GET /v2/ needs a login on this registry; reads of public content do not
      assert.deepEqual((await anonymous.manifest("oss/lib", "v1"))?.digest, image.manifestDigest);
      assert.equal(anonymous.tokensFetched >= 1, true);
      await assert.rejects(anonymous.manifest("team/app", "v1"), { kind: "status", status: 401, code: "UNAUTHORIZED" });
      await assert.rejects(anonymous.pushBlob("oss/lib", randomBytes(10)), { kind: "status", status: 401, code: "UNAUTHORIZED" });
    } finally {
      anonymous.close();
    }
  });

  it("reads as a reader and is denied a push (403 DENIED); wrong credentials fail at the token endpoint (401)", async () => {
    const rita = createRegistryClient({ url: berth.url, timeoutMs: 10_000, credentials: { username: "rita", password: "rita-password" } });
    const wrong = createRegistryClient({ url: berth.url, timeoutMs: 10_000, credentials: { username: "rita", password: "nope" } });
    try {
      assert.deepEqual((await rita.manifest("team/app", "v1"))?.content, image.manifest);
      await assert.rejects(rita.pushBlob("team/app", randomBytes(10)), { status: 403, code: "DENIED" });
      await assert.rejects(wrong.manifest("team/app", "v1"), (err: RegistryClientError) => err.kind === "status" && err.status === 401 && /credentials refused/.test(err.message));
    } finally {
      rita.close();
      wrong.close();
    }
  });

  it("mounts across repositories: the token asked for carries pull on the source", async () => {
    const { client, log } = loggedClient(berth.url, ADMIN);
    try {
      const data = randomBytes(3000);
      await client.pushBlob("team/app", data);
      log.length = 0;
      assert.equal(await client.mountBlob("oss/mounted", digestOf(data), "team/app"), true);
      assert.deepEqual(log.at(-1), "POST /v2/oss/mounted/blobs/uploads/ 201");
    } finally {
      client.close();
    }
  });
});

/** `basic-user:basic-password`, bcrypt with cost 4 (distribution checks it on every request). */
const HTPASSWD = "basic-user:$2b$04$6JIKXYzX3lr/R5mB4qlnEOYTOeWq6ZwJDE/OkEH11LwL2gYGpdUza\n";

describe("registry client against a Basic-only registry (distribution with htpasswd)", { skip: skipUnlessTools("docker-registry") }, () => {
  let dir: string;
  let registry: Distribution;
  let url: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-client-basic-"));
    await writeFile(join(dir, "htpasswd"), HTPASSWD);
    registry = await startDistribution(dir, { htpasswd: join(dir, "htpasswd"), realm: "basic-realm" });
    url = `http://${registry.host}`;
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers the Basic challenge with the credentials, fetching no token, and pushes chunked and streamed as distribution expects", async () => {
    const { client, log } = loggedClient(url, { username: "basic-user", password: "basic-password" });
    try {
      await client.ping();
      assert.deepEqual(log, ["GET /v2/ 401", "GET /v2/ 200"]);
      const image = makeImage({ layers: [randomBytes(20_000)] });
      await client.pushBlob("basic/app", image.layers[0]!, { chunkSize: 8192 });
      const config = await client.pushBlob("basic/app", { open: () => streamOf(image.config, 100) });
      assert.equal(config, image.configDigest);
      await client.putManifest("basic/app", "v1", image.manifest, image.manifestMediaType);
      assert.deepEqual((await client.manifest("basic/app", "v1"))?.content, image.manifest);
      assert.deepEqual(await client.blobContent("basic/app", image.layerDigests[0] as Digest), image.layers[0]);
      assert.equal(client.tokensFetched, 0);
      assert.equal(log.filter((l) => l.endsWith(" 401")).length, 1, "Basic is sent on every request once learnt");
    } finally {
      client.close();
    }
  });

  it("without credentials, or with wrong ones, fails with the registry's 401 UNAUTHORIZED", async () => {
    for (const credentials of [undefined, { username: "basic-user", password: "wrong" }]) {
      const client = createRegistryClient({ url, timeoutMs: 10_000, ...(credentials ? { credentials } : {}) });
      try {
        await assert.rejects(client.manifest("basic/app", "v1"), { kind: "status", status: 401, code: "UNAUTHORIZED" });
      } finally {
        client.close();
      }
    }
  });
});
