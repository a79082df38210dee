import { webhookSecretKey } from "../config/webhook-secret.js";
import { lazyRequire } from "../lazy-require.js";

const standardWebhooks = lazyRequire<typeof import("standardwebhooks")>("standardwebhooks");

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com), made by the reference library:
 * `webhook-id` (the event id, the same on every retry and replay, for deduplication),
 * `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).
 */
export interface Signer {
  headers(id: string, at: Date, body: string): Record<string, string>;
}

/**
 * A signer for `secret` (`whsec_<base64>` or a plain string, see config/webhook-secret.ts); without
 * one, deliveries carry `webhook-id` and `webhook-timestamp` and no signature.
 */
export function createSigner(secret: string | undefined): Signer {
  if (secret === undefined) {
    return { headers: (id, at) => ({ "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)) }) };
  }
  const checked = webhookSecretKey(secret);
  if ("problem" in checked) throw new Error(`webhook secret: ${checked.problem}`);
  // The library takes the raw key bytes with format "raw"; that covers both forms alike.
  const webhook = new (standardWebhooks().Webhook)(new Uint8Array(checked.key), { format: "raw" });
  return {
    headers(id, at, body) {
      return {
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": webhook.sign(id, at, body),
      };
    },
  };
}
