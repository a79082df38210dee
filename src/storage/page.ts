/** One page of a listing in lexical order: up to `limit` entries after `last` (exclusive), from the start without it. */
export interface Page {
  last?: string;
  limit: number;
}
