/**
 * Webhook signing secrets, in the two forms `notifications.endpoints[].secret` takes:
 *
 * - `whsec_<base64>`: the Standard Webhooks form; the key is the decoded bytes, so receivers
 *   verify with `new Webhook("whsec_…")` of the standardwebhooks libraries as is;
 * - any other string: the key is its UTF-8 bytes (receivers pass it with `{ format: "raw" }`).
 *
 * Either way the key has at least 24 bytes and at most 64, the range Standard Webhooks asks for.
 */
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;

/** The signing key of `secret`, or a problem to report (never containing the secret). */
export function webhookSecretKey(secret: string): { key: Buffer } | { problem: string } {
  let key: Buffer;
  if (secret.startsWith("whsec_")) {
    const text = secret.slice("whsec_".length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
      return { problem: "a whsec_ secret continues with base64 (e.g. from `openssl rand -base64 32`)" };
    }
    key = Buffer.from(text, "base64");
  } else {
    key = Buffer.from(secret, "utf8");
  }
  if (key.length < MIN_SECRET_BYTES) return { problem: `too short: ${key.length} bytes, at least ${MIN_SECRET_BYTES} (try whsec_ and \`openssl rand -base64 32\`)` };
  if (key.length > MAX_SECRET_BYTES) return { problem: `too long: ${key.length} bytes, at most ${MAX_SECRET_BYTES}` };
  return { key };
}
