import type { Page } from "../storage/page.js";

/** Walks a keyset-paginated store listing (`last` = key of the previous page's last item), `size` at a time. */
export async function* eachItem<T>(list: (page: Page) => Promise<T[]>, key: (item: T) => string, size = 1000): AsyncGenerator<T> {
  let last: string | undefined;
  for (;;) {
    const items = await list({ ...(last !== undefined ? { last } : {}), limit: size });
    yield* items;
    if (items.length < size) return;
    last = key(items[items.length - 1]!);
  }
}

/** Every item of a keyset-paginated store listing, in one array. */
export async function listAll<T>(list: (page: Page) => Promise<T[]>, key: (item: T) => string, size = 1000): Promise<T[]> {
  const out: T[] = [];
  for await (const item of eachItem(list, key, size)) out.push(item);
  return out;
}
