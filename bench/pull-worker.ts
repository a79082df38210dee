/**
 * One pull on its own thread, for the concurrent-pull workload: a single client thread hashing
 * eight streams would be the bottleneck, as eight real clients are not. Waits for "go", pulls the
 * blob, verifies size and sha256, posts "done" (or the error).
 */
import { createHash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";

const { url, digest, size } = workerData as { url: string; digest: string; size: number };

parentPort!.once("message", async () => {
  try {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`GET blob: HTTP ${res.status}`);
    const hash = createHash("sha256");
    let n = 0;
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(c);
      n += c.length;
    }
    if (n !== size || `sha256:${hash.digest("hex")}` !== digest) throw new Error(`pulled blob differs (${n} bytes)`);
    parentPort!.postMessage("done");
  } catch (err) {
    parentPort!.postMessage(String(err));
  }
});
parentPort!.postMessage("ready");
