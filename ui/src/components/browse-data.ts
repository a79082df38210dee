import { useData, type DataState } from "../use-data";

/** The browse pages' name for useData, whose answer is always the current key's. */
export type KeyedData<T> = DataState<T>;

export const useKeyedData: <T>(load: () => Promise<T>, key: string) => KeyedData<T> = useData;
