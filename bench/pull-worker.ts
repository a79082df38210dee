/**
 * One pull on its own thread, for the concurrent-pull workload: a single client thread hashing
 * eight streams would be the bottleneck, as eight real clients are not. Waits for "go", pulls and
 * verifies the blob (pullBlob), posts "done" (or the error).
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Digest } from "../src/oci/digest.js";
import { pullBlob } from "./workloads.js";

const { url, repo, digest, size } = workerData as { url: string; repo: string; digest: Digest; size: number };

parentPort!.once("message", async () => {
  try {
    await pullBlob(url, repo, { digest, size });
    parentPort!.postMessage("done");
  } catch (err) {
    parentPort!.postMessage(String(err));
  }
});
parentPort!.postMessage("ready");
