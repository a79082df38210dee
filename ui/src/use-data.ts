import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";

export interface DataState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  /** Loads again (after a change). */
  reload(): void;
}

/** Runs `load` when `key` changes (and on reload); the last answer wins. */
export function useData<T>(load: () => Promise<T>, key: string): DataState<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => current && setState({ data, loading: false }),
      (err: unknown) => current && setState({ error: err instanceof ApiError ? err : new ApiError(0, "UNKNOWN", String(err)), loading: false }),
    );
    return () => {
      current = false;
    };
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
