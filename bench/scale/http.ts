/**
 * Raw OCI requests for the scale workloads (mounts, manifest PUTs, listings), on one keep-alive
 * pool, so both registries see the same client.
 */
import { Agent, request } from "node:http";

/** A whole answer: status, headers and body. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One request, the body read in full; rejects on network errors and after `timeoutMs`. */
export function call(method: string, url: string, opts: { body?: Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent,
        headers: { ...opts.headers, ...(opts.body ? { "content-length": String(opts.body.length) } : {}) },
        timeout: opts.timeoutMs ?? 600_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${u.pathname}: no answer in ${opts.timeoutMs ?? 600_000} ms`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** `call`, throwing unless the status is `expect`. */
export async function expectStatus(expect: number, method: string, url: string, opts: Parameters<typeof call>[2] = {}): Promise<Answer> {
  const a = await call(method, url, opts);
  if (a.status !== expect) throw new Error(`${method} ${new URL(url).pathname}: HTTP ${a.status} (expected ${expect}): ${a.body.toString().slice(0, 200)}`);
  return a;
}

/** The next page's path from a `Link: <…>; rel="next"` header, if any. */
export function nextLink(a: Answer): string | undefined {
  const link = a.headers.link;
  const value = Array.isArray(link) ? link[0] : link;
  return value ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(value)?.[1] : undefined;
}

/** Runs `fn` over 0..n-1 with at most `limit` calls in flight. */
export async function parallel(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

export function closeHttp(): void {
  agent.destroy();
}
