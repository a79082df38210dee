/**
 * A minimal HTTP client over node:http for the storm's well-behaved clients: a deadline per
 * request, every failure named by kind (status, socket error code, timeout).
 */
import { createHash } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";

/** A response read to its end. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A failed request, with a short kind for counting (`status 500`, `ECONNRESET`, `timeout`). */
export class RequestFailure extends Error {
  constructor(readonly kind: string, message: string) {
    super(message);
  }
}

export function createAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

export function send(
  agent: Agent,
  method: string,
  url: string,
  { body, headers = {}, timeoutMs, expect }: { body?: Buffer; headers?: Record<string, string>; timeoutMs: number; expect: number[] },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest(
      { agent, method, host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers: { ...headers, ...(body ? { "content-length": String(body.length) } : {}) } },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("error", (e: NodeJS.ErrnoException) => reject(new RequestFailure(e.code ?? "response error", e.message)));
        res.on("end", () => {
          clearTimeout(timer);
          const reply = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) };
          if (!expect.includes(reply.status)) reject(new RequestFailure(`status ${reply.status}`, `${method} ${u.pathname}: ${reply.status} ${reply.body.toString().slice(0, 200)}`));
          else resolve(reply);
        });
      },
    );
    const sentAt = performance.now();
    const seen: string[] = [];
    const mark = (what: string) => seen.push(`${what} +${Math.round(performance.now() - sentAt)} ms`);
    req.on("socket", (s) => {
      mark(s.connecting ? "new socket" : "reused socket");
      if (s.connecting) s.once("connect", () => mark("connected"));
    });
    req.on("finish", () => mark("request sent"));
    req.on("response", () => mark("response headers"));
    const timer = setTimeout(() => {
      req.destroy();
      reject(new RequestFailure("timeout", `${method} ${u.pathname}: no answer in ${timeoutMs} ms (${seen.join(", ") || "no socket"})`));
    }, timeoutMs);
    req.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new RequestFailure(e.code ?? "socket error", `${method} ${u.pathname}: ${e.message}`));
    });
    req.end(body);
  });
}

/** Pushes one blob in `chunks` PATCHes and a closing PUT; returns its digest. */
export async function pushChunked(agent: Agent, base: string, repo: string, chunks: Buffer[], timeoutMs: number, stage = (_s: string) => {}): Promise<string> {
  const whole = Buffer.concat(chunks);
  const digest = sha256(whole);
  stage("POST");
  let res = await send(agent, "POST", `${base}/v2/${repo}/blobs/uploads/`, { timeoutMs, expect: [202] });
  let location = new URL(String(res.headers.location), base).toString();
  let offset = 0;
  for (const chunk of chunks) {
    stage("PATCH");
    res = await send(agent, "PATCH", location, {
      body: chunk,
      headers: { "content-type": "application/octet-stream", "content-range": `${offset}-${offset + chunk.length - 1}` },
      timeoutMs,
      expect: [202],
    });
    offset += chunk.length;
    location = new URL(String(res.headers.location), base).toString();
  }
  stage("PUT");
  const put = new URL(location);
  put.searchParams.set("digest", digest);
  await send(agent, "PUT", put.toString(), { timeoutMs, expect: [201] });
  return digest;
}

/** Pushes one blob as POST + a single PUT with the body. */
export async function pushMonolithic(agent: Agent, base: string, repo: string, blob: Buffer, timeoutMs: number): Promise<string> {
  const digest = sha256(blob);
  const res = await send(agent, "POST", `${base}/v2/${repo}/blobs/uploads/`, { timeoutMs, expect: [202] });
  const put = new URL(String(res.headers.location), base);
  put.searchParams.set("digest", digest);
  await send(agent, "PUT", put.toString(), { body: blob, headers: { "content-type": "application/octet-stream" }, timeoutMs, expect: [201] });
  return digest;
}

export const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

/** An OCI image manifest of one config blob and one layer. */
export function imageManifest(config: { digest: string; size: number }, layer: { digest: string; size: number }): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
    }),
  );
}
