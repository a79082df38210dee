import type { Origin } from "./events.js";
import { finished, Transform, type Readable } from "node:stream";
import type { Digest } from "../oci/digest.js";
import type { Quotas } from "./quotas.js";

/** A request body counted against a repository's quotas as it arrives. */
export interface QuotaLimitedBody {
  /** The body's bytes; errors with the refusal (DENIED) at the first chunk that would take a scope over. */
  stream: Readable;
  /** The refusal, once the body was stopped for one; undefined otherwise. */
  refusal(): unknown;
}

/**
 * Counts a body of unknown length (a chunked PATCH, as podman and buildah send) against `repo`'s
 * quotas while it streams, the `staged` bytes the upload holds already included. At the first
 * chunk that would take a scope over its limit the body is unpiped and paused, not destroyed: the
 * client is still sending, and the connection must carry the 403 answer back. With the blob's
 * digest known (the final chunk of an upload), a blob the scope already references adds nothing.
 */
export async function quotaLimited(quotas: Quotas, repo: string, body: Readable, staged: number, digest?: Digest, origin?: Origin): Promise<QuotaLimitedBody> {
  let budget = (await quotas.allowance(repo)) - staged;
  let received = 0;
  let refusal: unknown;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (received <= budget) return done(null, chunk);
      const size = staged + received;
      // The exact check decides (and words the refusal): usage may have dropped, or the blob be known.
      quotas.check(repo, digest ? { blobs: [{ digest, size }] } : { bytes: size }, origin).then(
        async () => {
          budget = digest ? Infinity : (await quotas.allowance(repo)) - staged;
          done(null, chunk);
        },
        (err: unknown) => {
          refusal = err;
          body.unpipe(limiter);
          body.pause();
          done(err as Error);
        },
      );
    },
  });
  finished(body, (err) => {
    if (err && refusal === undefined) limiter.destroy(err);
  });
  body.pipe(limiter);
  return { stream: limiter, refusal: () => refusal };
}
