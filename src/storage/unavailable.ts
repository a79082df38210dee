import { RegistryError } from "../oci/errors.js";

/**
 * Turning "the store did not answer" into the one error clients understand: a RegistryError
 * UNAVAILABLE (503 with `Retry-After`) whose message names the store. Each driver knows its own
 * failure shapes (a pg "Query read timeout", an S3 SDK TimeoutError, SQLITE_BUSY) and passes a
 * classifier; everything it does not recognise passes through unchanged, so a real bug still
 * surfaces as a logged 500.
 */

/** Seconds a client is told to wait before retrying: long enough for a pool to reconnect, short enough for a CI job. */
export const RETRY_AFTER_SECONDS = 5;

/** Says why `err` means the store is unreachable or too slow (e.g. "no answer within 30s"), or undefined for any other error. */
export type UnavailableClassifier = (err: unknown) => string | undefined;

/** Which store, as operators and clients read it: "metadata database (PostgreSQL)", "object store (S3)". */
export type StoreLabel = string;

/** What `detail.store` says in the error body: `metadata`, `blobs`, `auth`. */
export type StoreRole = "metadata" | "blobs" | "auth";

export function storeUnavailable(role: StoreRole, label: StoreLabel, reason: string, cause?: unknown): RegistryError {
  return new RegistryError("UNAVAILABLE", `the ${label} is unavailable: ${reason}; retry shortly`, { store: role }, {
    headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
    cause,
  });
}

/** The store `err` names when it is a store-unavailable RegistryError. */
export function unavailableStore(err: unknown): StoreRole | undefined {
  if (!(err instanceof RegistryError) || err.code !== "UNAVAILABLE") return undefined;
  return (err.detail as { store?: StoreRole } | undefined)?.store;
}

function translate(err: unknown, role: StoreRole, label: StoreLabel, classify: UnavailableClassifier): unknown {
  if (err instanceof RegistryError) return err;
  const reason = classify(err);
  return reason === undefined ? err : storeUnavailable(role, label, reason, err);
}

async function* guardIterator<T>(it: AsyncGenerator<T>, fix: (err: unknown) => unknown): AsyncGenerator<T> {
  let done = false;
  try {
    for (;;) {
      let step: IteratorResult<T>;
      try {
        step = await it.next();
      } catch (err) {
        done = true;
        throw fix(err);
      }
      if (step.done) {
        done = true;
        return;
      }
      yield step.value;
    }
  } finally {
    // A consumer that stops early (break) must still let the driver release what it holds.
    if (!done) await it.return(undefined);
  }
}

const isAsyncGenerator = (v: unknown): v is AsyncGenerator =>
  typeof v === "object" && v !== null && Object.prototype.toString.call(v) === "[object AsyncGenerator]";

/**
 * `store` with every method's failures translated: a rejected promise, a synchronous throw or an
 * async generator's failing step that `classify` recognises becomes storeUnavailable(role, label).
 * Methods run on the original object, so a driver calling its own methods is unaffected.
 */
export function guardStore<T extends object>(store: T, role: StoreRole, label: StoreLabel, classify: UnavailableClassifier): T {
  const fix = (err: unknown) => translate(err, role, label, classify);
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        fn = (...args: unknown[]) => {
          let result: unknown;
          try {
            result = (value as (...a: unknown[]) => unknown).apply(target, args);
          } catch (err) {
            throw fix(err);
          }
          if (result instanceof Promise) return result.catch((err: unknown) => Promise.reject(fix(err)));
          if (isAsyncGenerator(result)) return guardIterator(result, fix);
          return result;
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}
