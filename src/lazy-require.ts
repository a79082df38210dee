import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * A CommonJS package loaded on first call rather than at start-up: the supply-chain and webhook
 * libraries cost the server several MiB of heap and code that a registry not using them (the
 * embedded default with no webhooks, no signature policy) never needs.
 */
export function lazyRequire<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}
