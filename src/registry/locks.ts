import type { StoreLock } from "../storage/lifecycle-store.js";
import type { MetadataStore } from "../storage/metadata-store.js";

/**
 * Takes the store's named lock (one GC, one retention run at a time across nodes). When another
 * holder has it: resolves undefined at once, or with `wait` polls until it is free or `signal` fires.
 */
export async function takeLock(
  metadata: MetadataStore,
  name: string,
  { wait = false, signal }: { wait?: boolean; signal?: AbortSignal | undefined } = {},
): Promise<StoreLock | undefined> {
  let lock = await metadata.tryLock(name);
  while (!lock && wait && !signal?.aborted) {
    await new Promise((r) => setTimeout(r, 250));
    lock = await metadata.tryLock(name);
  }
  return lock;
}
