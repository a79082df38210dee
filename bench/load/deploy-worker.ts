/**
 * A share of the deploy storm's clients on one thread: each pulls the image as a node does after
 * a deploy (manifest, then config and layers, three blobs at a time over its own keep-alive
 * connections). Clients listed in `verify` hash every blob against its digest; the others check
 * lengths only, so the client's hashing does not take the cores the servers are measured on.
 */
import { createHash } from "node:crypto";
import { Agent, request } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

/** One client's pull. */
export interface ClientResult {
  client: number;
  ms: number;
  bytes: number;
  verified: boolean;
  error?: string;
}

const { url, repo, tag, clients, verify, timeoutMs } = workerData as { url: string; repo: string; tag: string; clients: number[]; verify: number[]; timeoutMs: number };
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function get(agent: Agent, path: string, accept: string | undefined, hash: boolean): Promise<{ body?: Buffer; bytes: number; digest?: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const req = request({ agent, host: u.hostname, port: u.port, path: u.pathname, headers: accept ? { accept } : {} }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`GET ${u.pathname}: ${res.statusCode}`));
      }
      const h = hash ? createHash("sha256") : undefined;
      const parts: Buffer[] | undefined = accept ? [] : undefined;
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
        h?.update(c);
        parts?.push(c);
      });
      res.on("error", reject);
      res.on("end", () => resolve({ bytes, ...(parts ? { body: Buffer.concat(parts) } : {}), ...(h ? { digest: `sha256:${h.digest("hex")}` } : {}) }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${u.pathname}: no byte for ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

async function pull(client: number): Promise<ClientResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 3 });
  const hash = verify.includes(client);
  const started = performance.now();
  let bytes = 0;
  try {
    const m = await get(agent, `/v2/${repo}/manifests/${tag}`, MANIFEST, false);
    const manifest = JSON.parse(m.body!.toString()) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
    const blobs = [manifest.config, ...manifest.layers];
    let next = 0;
    const lane = async () => {
      while (next < blobs.length) {
        const blob = blobs[next++]!;
        const got = await get(agent, `/v2/${repo}/blobs/${blob.digest}`, undefined, hash);
        bytes += got.bytes;
        if (got.bytes !== blob.size) throw new Error(`${blob.digest}: ${got.bytes} bytes, not ${blob.size}`);
        if (hash && got.digest !== blob.digest) throw new Error(`${blob.digest}: bytes hash to ${got.digest}`);
      }
    };
    await Promise.all([lane(), lane(), lane()]);
    return { client, ms: performance.now() - started, bytes, verified: hash };
  } catch (err) {
    return { client, ms: performance.now() - started, bytes, verified: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    agent.destroy();
  }
}

parentPort!.once("message", async () => {
  const results = await Promise.all(clients.map((c) => pull(c)));
  parentPort!.postMessage(results);
});
parentPort!.postMessage("ready");
