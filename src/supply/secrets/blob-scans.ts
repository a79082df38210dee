import type { Digest } from "../../oci/digest.js";
import type { Logger } from "../../logger.js";
import type { BlobStore } from "../../storage/blob-store.js";
import type { SupplyStore } from "../../storage/supply-store.js";
import { LayerFormatError } from "../layer-entries.js";
import type { SecretFinding } from "./match.js";
import type { SecretRuleSet } from "./rules.js";
import { scanImageConfig } from "./scan-config.js";
import { scanLayer } from "./scan-layer.js";

/** The SupplyStore kind secret findings are kept under, keyed `<layer|config>:<digest>:<rules fingerprint>`. */
export const SECRETS_KIND = "secrets";

/** What is known of one blob: its findings, or why it could not be read. */
export interface BlobScan {
  findings: SecretFinding[];
  /** Findings beyond those listed. */
  more?: number;
  /** Why the blob was not scanned (a zstd layer, a corrupt archive): it counts as clean. */
  unreadable?: string;
  /** Uncompressed bytes of file content read, and how long it took (ms). */
  bytes?: number;
  ms?: number;
}

export type BlobRole = "layer" | "config";

/**
 * Scans blobs once per rule set: results live in the SupplyStore (so every node and every
 * repository pushing the same layer reuses them), a scan in progress is joined rather than
 * repeated, and at most `concurrency` scans run at a time in this process.
 */
export interface BlobScans {
  /** The stored result, else a scan (joined if one is running). */
  scan(role: BlobRole, digest: Digest): Promise<BlobScan>;
  /** Stored results of these blobs, by `role:digest`; those never scanned are absent. */
  stored(blobs: readonly { role: BlobRole; digest: Digest }[]): Promise<Map<string, BlobScan>>;
  /** Whether a scan of the blob runs in this process now. */
  running(role: BlobRole, digest: Digest): boolean;
  /** Scans this process ran (not those answered from the store): how the tests see a layer scanned once. */
  readonly performed: number;
  /** Resolves once every scan started so far has settled. */
  settled(): Promise<void>;
}

export interface BlobScansOptions {
  blobStore: BlobStore;
  store: SupplyStore;
  rules: SecretRuleSet;
  maxFileSize: number;
  /** Largest image config read (bigger ones are not scanned). */
  maxConfigSize?: number;
  concurrency?: number;
  logger: Logger;
}

function limiter(concurrency: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

async function readAll(stream: AsyncIterable<Buffer>, limit: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) return undefined;
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

export function createBlobScans({ blobStore, store, rules, maxFileSize, maxConfigSize = 16 << 20, concurrency = 2, logger }: BlobScansOptions): BlobScans {
  const inflight = new Map<string, Promise<BlobScan>>();
  const limit = limiter(concurrency);
  let performed = 0;
  const id = (role: BlobRole, digest: Digest) => `${role}:${digest}`;
  const keyOf = (role: BlobRole, digest: Digest) => `${id(role, digest)}:${rules.fingerprint}`;

  async function run(role: BlobRole, digest: Digest): Promise<BlobScan> {
    const started = Date.now();
    let result: BlobScan;
    const stream = await blobStore.read(digest);
    performed++;
    if (role === "config") {
      const content = await readAll(stream, maxConfigSize);
      stream.destroy();
      result = content ? { findings: scanImageConfig(content, rules) } : { findings: [], unreadable: `image config larger than ${maxConfigSize} bytes` };
    } else {
      try {
        const layer = await scanLayer(stream, rules, { maxFileSize });
        result = { findings: layer.findings, ...(layer.more ? { more: layer.more } : {}), bytes: layer.bytes };
      } catch (err) {
        stream.destroy();
        if (!(err instanceof LayerFormatError)) throw err;
        // Kept like a finding: a config or an artifact's payload scanned as a pushed blob is not read again either.
        result = { findings: [], unreadable: err.message };
      }
    }
    result.ms = Date.now() - started;
    await store.putSupplyRecords(SECRETS_KIND, [{ key: keyOf(role, digest), value: JSON.stringify(result) }]);
    if (result.findings.length > 0) logger.debug("secret scan found secrets", { blob: digest, role, findings: result.findings.length });
    return result;
  }

  return {
    async scan(role, digest) {
      const key = keyOf(role, digest);
      const joined = inflight.get(key);
      if (joined) return joined;
      const task = (async () => {
        const record = await store.getSupplyRecord(SECRETS_KIND, key);
        if (record) return JSON.parse(record.value) as BlobScan;
        return limit(() => run(role, digest));
      })().finally(() => inflight.delete(key));
      inflight.set(key, task);
      return task;
    },
    async stored(blobs) {
      const records = await store.getSupplyRecords(SECRETS_KIND, blobs.map((b) => keyOf(b.role, b.digest)));
      const out = new Map<string, BlobScan>();
      for (const b of blobs) {
        const r = records.get(keyOf(b.role, b.digest));
        if (r) out.set(id(b.role, b.digest), JSON.parse(r.value) as BlobScan);
      }
      return out;
    },
    running: (role, digest) => inflight.has(keyOf(role, digest)),
    get performed() {
      return performed;
    },
    async settled() {
      while (inflight.size > 0) await Promise.allSettled([...inflight.values()]);
    },
  };
}
