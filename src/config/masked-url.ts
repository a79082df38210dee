/**
 * A webhook URL as Berth shows it (`berth config`, `/api/v1/webhooks`, `berth events endpoints`):
 * `scheme://host[:port]`, then `/…` for any path beyond `/` and `?…` for any query, since a
 * receiver's token often lives in either (`/api/webhooks/<id>/<token>`, `?token=`). The fragment,
 * never sent, is left out; something that is not a URL is shown as `…`.
 */
export function maskedUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "…";
  }
  return `${u.protocol}//${u.host}${u.pathname.length > 1 ? "/…" : ""}${u.search ? "?…" : ""}`;
}
