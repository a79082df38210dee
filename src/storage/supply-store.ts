import type { Page } from "./page.js";

/**
 * What the supply-chain checks share between nodes: records keyed by `(kind, key)` holding a JSON
 * text value, e.g. the vulnerability database by ecosystem and package (`osv`), secret findings by
 * layer digest (`secrets`), the SBOM of an image by manifest digest (`sbom`). Values are opaque to
 * the store; callers own their format. A kind also has a generation counter, bumped when a whole
 * data set changes (a vulnerability database import), so caches of derived results know when to
 * recompute.
 */
export interface SupplyStore {
  getSupplyRecord(kind: string, key: string): Promise<SupplyRecord | undefined>;
  /** The records of `keys` that exist, by key; missing keys are absent from the map. */
  getSupplyRecords(kind: string, keys: readonly string[]): Promise<Map<string, SupplyRecord>>;
  /** Inserts or replaces every entry, all in one transaction (a failure writes none of them). */
  putSupplyRecords(kind: string, entries: readonly { key: string; value: string }[], now?: number): Promise<void>;
  /** Deletes the records of `keys`; resolves how many existed. */
  deleteSupplyRecords(kind: string, keys: readonly string[]): Promise<number>;
  /** Records of `kind` with keys strictly after `page.last` (byte-wise), at most `page.limit`. */
  listSupplyRecords(kind: string, page: Page): Promise<({ key: string } & SupplyRecord)[]>;
  countSupplyRecords(kind: string): Promise<number>;
  /** The kind's generation: 0 until first bumped. */
  supplyGeneration(kind: string): Promise<number>;
  /** Adds one to the kind's generation and resolves the new value (atomic across nodes). */
  bumpSupplyGeneration(kind: string): Promise<number>;
}

export interface SupplyRecord {
  value: string;
  /** When it was last written (epoch ms). */
  updatedAt: number;
}
