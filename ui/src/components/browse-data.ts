import type { ApiError } from "../api";
import { useData } from "../use-data";

/** A load's answer for the current key only: while the next key loads, the previous answer is not passed off as its. */
export interface KeyedData<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** True until the answer for the current key arrived (also before the load has started). */
  loading: boolean;
  reload(): void;
}

/** useData whose answer is tagged with the key it was asked for (a list re-sorted or re-filtered shows no stale rows as new). */
export function useKeyedData<T>(load: () => Promise<T>, key: string): KeyedData<T> {
  const state = useData(() => load().then((data) => ({ key, data })), key);
  const settled = !state.loading && (state.data?.key === key || state.error !== undefined);
  const current = state.data?.key === key ? state.data.data : undefined;
  return { data: current, error: settled ? state.error : undefined, loading: !settled, reload: state.reload };
}
