// The registry client against small node:http servers that misbehave the way real ones do: blob
// GETs redirected to another origin (an object store's presigned URL), answers whose bytes do not
// match their digest, servers that go silent, refuse connections, or answer errors without an
// OCI body. Each server is a real socket on 127.0.0.1.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { createRegistryClient, RegistryClientError, type RegistryClient } from "../../src/client/registry-client.js";
import { digestOf } from "../../src/oci/digest.js";

const servers: { close(): void }[] = [];

async function listen(handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({ close: () => (server.closeAllConnections(), server.close()) });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const ociError = (code: string) => JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] });
const clientOf = (url: string, timeoutMs = 5000, credentials?: { username: string; password: string }): RegistryClient =>
  createRegistryClient({ url, timeoutMs, ...(credentials ? { credentials } : {}) });

after(() => {
  for (const s of servers) s.close();
});

describe("registry client: redirects", () => {
  it("follows a blob redirect to another origin without the Authorization header, and keeps it on the registry's own origin", async () => {
    const data = randomBytes(4096);
    const local = randomBytes(2048);
    const received: IncomingHttpHeaders[] = [];
    const store = await listen((req, res) => {
      received.push(req.headers);
      res.writeHead(200, { "content-length": data.length }).end(data);
    });
    const basic = `Basic ${Buffer.from("user:pass").toString("base64")}`;
    const registry = await listen((req, res) => {
      if (req.headers.authorization !== basic) return res.writeHead(401, { "www-authenticate": 'Basic realm="registry"', "content-type": "application/json" }).end(ociError("UNAUTHORIZED"));
      if (req.url === `/v2/team/app/blobs/${digestOf(data)}`) return res.writeHead(307, { location: `${store.url}/bucket/blob?X-Amz-Signature=abc` }).end();
      if (req.url === `/v2/team/app/blobs/${digestOf(local)}`) return res.writeHead(307, { location: "/storage/local" }).end();
      if (req.url === "/storage/local") return res.writeHead(200, { "content-length": local.length }).end(local);
      res.writeHead(404).end();
    });
    const client = clientOf(registry.url, 5000, { username: "user", password: "pass" });
    try {
      assert.deepEqual(await client.blobContent("team/app", digestOf(data)), data);
      assert.equal(received.length, 1);
      assert.equal(received[0]!.authorization, undefined, "the registry's credentials never reach the object store");
      assert.equal(received[0]!["user-agent"], "berth");
      assert.deepEqual(await client.blobContent("team/app", digestOf(local)), local, "same origin: credentials sent, the store answers");
    } finally {
      client.close();
    }
  });
});

describe("registry client: answers that do not match their digest", () => {
  const shown = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", layers: [] }));
  const claimed = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", layers: [], x: 1 }));
  const blob = randomBytes(100);
  const other = randomBytes(100);
  let client: RegistryClient;

  it("refuses a manifest whose bytes are not the Docker-Content-Digest, or not the digest asked for, and a blob whose bytes are not its digest", async () => {
    const liar = await listen((req, res) => {
      const manifest = { "content-type": "application/vnd.oci.image.manifest.v1+json", "docker-content-digest": digestOf(claimed) };
      if (req.url === "/v2/r/manifests/latest" || req.url === `/v2/r/manifests/${digestOf(claimed)}`) return res.writeHead(200, manifest).end(shown);
      if (req.url === "/v2/r/manifests/nodigest") return res.writeHead(200, { "content-type": manifest["content-type"] }).end(req.method === "HEAD" ? undefined : shown);
      if (req.url === `/v2/r/blobs/${digestOf(blob)}`) return res.writeHead(200).end(other);
      res.writeHead(404).end();
    });
    client = clientOf(liar.url);
    try {
      for (const ref of ["latest", digestOf(claimed)]) {
        await assert.rejects(client.manifest("r", ref), (err: RegistryClientError) => err.code === "DIGEST_INVALID" && err.message.includes(digestOf(shown)));
      }
      await assert.rejects(client.blobContent("r", digestOf(blob)), { code: "DIGEST_INVALID" });
      // Without a digest to check against, the digest is the content's own; a HEAD cannot tell it.
      assert.equal((await client.manifest("r", "nodigest"))?.digest, digestOf(shown));
      await assert.rejects(client.manifest("r", "nodigest", { method: "HEAD" }), /no Docker-Content-Digest/);
    } finally {
      client.close();
    }
  });
});

describe("registry client: failures before or instead of an answer", () => {
  it("gives up on a server that accepts the connection and says nothing, with a timeout error", async () => {
    const sockets: Socket[] = [];
    const silent = createNetServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    servers.push({ close: () => (sockets.forEach((s) => s.destroy()), silent.close()) });
    const client = clientOf(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, 300);
    try {
      const t0 = Date.now();
      await assert.rejects(client.manifest("r", "latest"), { name: "RegistryClientError", kind: "timeout" });
      assert.ok(Date.now() - t0 < 3000, "after about the timeout");
    } finally {
      client.close();
    }
  });

  it("cuts a body that stalls halfway with a timeout error, and names one whose connection dies `unreachable`", async () => {
    const server = await listen((req, res) => {
      res.writeHead(200, { "content-length": 1000, "content-type": "application/vnd.oci.image.manifest.v1+json" });
      res.write(Buffer.alloc(10));
      if (req.url?.includes("/manifests/")) setTimeout(() => res.socket?.destroy(), 20);
    });
    const client = clientOf(server.url, 300);
    try {
      await assert.rejects(client.blobContent("r", digestOf(randomBytes(1000))), (err: Error) => err instanceof RegistryClientError && err.kind === "timeout");
      const stream = (await client.blob("r", digestOf(randomBytes(1000))))!.stream;
      await assert.rejects(async () => {
        for await (const _ of stream) void _;
      }, { name: "RegistryClientError", kind: "timeout" }, "a streaming reader sees the timeout too");
      await assert.rejects(client.manifest("r", "latest"), (err: Error) => err instanceof RegistryClientError && err.kind === "unreachable" && /after 10 bytes/.test(err.message));
    } finally {
      client.close();
    }
  });

  it("names a refused connection `unreachable`", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createNetServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const client = clientOf(`http://127.0.0.1:${port}`);
    try {
      await assert.rejects(client.ping(), (err: RegistryClientError) => err.kind === "unreachable" && err.message.includes("ECONNREFUSED"));
    } finally {
      client.close();
    }
  });

  it("keeps the status of an answer without an OCI body, and reads Retry-After", async () => {
    const server = await listen((req, res) => {
      if (req.url?.startsWith("/v2/html/")) return res.writeHead(502, { "content-type": "text/html" }).end("<html>bad gateway</html>");
      res.writeHead(429, { "retry-after": "7", "content-type": "application/json" }).end(ociError("TOOMANYREQUESTS"));
    });
    const client = clientOf(server.url);
    try {
      await assert.rejects(client.manifest("html/app", "v1"), (err: RegistryClientError) => err.status === 502 && err.code === undefined && err.kind === "status");
      await assert.rejects(client.tags("busy/app"), { status: 429, code: "TOOMANYREQUESTS", retryAfterMs: 7000 });
    } finally {
      client.close();
    }
  });
});
