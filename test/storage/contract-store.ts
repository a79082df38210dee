import { after, before } from "node:test";

/**
 * The store a contract suite tests: created before the suite's tests, closed and cleaned up after.
 * Resolves to a stand-in that forwards to the real store, so suites use `store.method()` as is.
 */
export function useContractStore<S extends { close(): Promise<void> }>(
  create: () => Promise<{ store: S; cleanup(): Promise<void> }>,
): S {
  let made: { store: S; cleanup(): Promise<void> } | undefined;
  before(async () => {
    made = await create();
  });
  after(async () => {
    await made?.store.close();
    await made?.cleanup();
  });
  return new Proxy({} as S, {
    get(_target, prop) {
      if (!made) throw new Error("the contract store is used before the suite started");
      const value = (made.store as Record<string | symbol, unknown>)[prop];
      return typeof value === "function" ? value.bind(made.store) : value;
    },
  });
}
