import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";

export interface DataState<T> {
  /** The answer for the current key: while another key loads, the previous key's answer is not passed off as its. */
  data: T | undefined;
  error: ApiError | undefined;
  /** True until the answer for the current key arrived (a reload keeps showing the data it replaces). */
  loading: boolean;
  /** Loads again (after a change). */
  reload(): void;
}

/** Runs `load` when `key` changes (and on reload); the last answer wins. */
export function useData<T>(load: () => Promise<T>, key: string): DataState<T> {
  const [state, setState] = useState<{ key?: string; data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => current && setState({ key, data, loading: false }),
      (err: unknown) => current && setState({ key, error: err instanceof ApiError ? err : new ApiError(0, "UNKNOWN", String(err)), loading: false }),
    );
    return () => {
      current = false;
    };
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const mine = state.key === key;
  return { data: mine ? state.data : undefined, error: mine && !state.loading ? state.error : undefined, loading: state.loading || !mine, reload };
}
