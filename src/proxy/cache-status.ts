/**
 * What the cache did for one answer: served it (`hit`), fetched and stored it (`miss`), joined a
 * fetch already under way (`collapsed`), asked the upstream whether a cached tag still holds
 * (`revalidated`), passed the upstream's answer on without storing it (`forwarded`: listings, a
 * blob's HEAD), or served a cached tag because the upstream could not answer (`stale`).
 */
export type CacheResult = "hit" | "miss" | "collapsed" | "revalidated" | "forwarded" | "stale";

/** The RFC 9211 `Cache-Status` value for a result, from the cache named `Berth`. */
export function cacheStatus(result: CacheResult, ttlSeconds?: number): string {
  const ttl = ttlSeconds === undefined ? "" : `; ttl=${ttlSeconds}`;
  switch (result) {
    case "hit":
      return `Berth; hit${ttl}`;
    case "miss":
      return "Berth; fwd=uri-miss; stored";
    case "collapsed":
      return "Berth; fwd=uri-miss; collapsed";
    case "revalidated":
      return "Berth; fwd=stale; fwd-status=200";
    case "forwarded":
      return "Berth; fwd=uri-miss";
    case "stale":
      // A negative ttl is how RFC 9211 says "served stale".
      return `Berth; hit; ttl=${Math.min(ttlSeconds ?? -1, -1)}; detail=stale`;
  }
}
