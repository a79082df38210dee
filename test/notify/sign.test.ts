import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { createSigner } from "../../src/notify/sign.js";

const WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PLAIN = "a plain secret, long enough to sign with";
const BODY = '{"events":[{"id":"e1","action":"push"}]}';

describe("Standard Webhooks signatures", () => {
  it("verify with the standardwebhooks library's own Webhook.verify, for a whsec_ secret as written", () => {
    const headers = createSigner(WHSEC).headers("e1", new Date(), BODY);
    assert.equal(headers["webhook-id"], "e1");
    assert.match(headers["webhook-signature"]!, /^v1,[A-Za-z0-9+/]+=*$/);
    assert.deepEqual(new Webhook(WHSEC).verify(BODY, headers), JSON.parse(BODY));
  });

  it("verify for a plain secret given to the library as raw bytes", () => {
    const headers = createSigner(PLAIN).headers("e1", new Date(), BODY);
    assert.deepEqual(new Webhook(PLAIN, { format: "raw" }).verify(BODY, headers), JSON.parse(BODY));
  });

  it("fail verification for another body, another id, another secret or an old timestamp", () => {
    const now = new Date();
    const headers = createSigner(WHSEC).headers("e1", now, BODY);
    const verifier = new Webhook(WHSEC);
    assert.throws(() => verifier.verify(BODY.replace("push", "pull"), headers), WebhookVerificationError);
    assert.throws(() => verifier.verify(BODY, { ...headers, "webhook-id": "e2" }), WebhookVerificationError);
    assert.throws(() => new Webhook(PLAIN, { format: "raw" }).verify(BODY, headers), WebhookVerificationError);
    const old = createSigner(WHSEC).headers("e1", new Date(now.getTime() - 3600_000), BODY);
    assert.throws(() => verifier.verify(BODY, old), WebhookVerificationError);
  });

  it("keep the id of a retry and sign its own timestamp", () => {
    const signer = createSigner(WHSEC);
    const first = signer.headers("e1", new Date(1_800_000_000_000), BODY);
    const retry = signer.headers("e1", new Date(1_800_000_060_000), BODY);
    assert.equal(first["webhook-id"], retry["webhook-id"]);
    assert.deepEqual([first["webhook-timestamp"], retry["webhook-timestamp"]], ["1800000000", "1800000060"]);
    assert.notEqual(first["webhook-signature"], retry["webhook-signature"]);
  });

  it("send id and timestamp but no signature without a secret", () => {
    const headers = createSigner(undefined).headers("e1", new Date(1_800_000_000_000), BODY);
    assert.deepEqual(headers, { "webhook-id": "e1", "webhook-timestamp": "1800000000" });
  });
});
