import { parseDigest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import { parseRangeHeader, type ByteRange } from "../../oci/range.js";
import type { Handler } from "../context.js";
import { reply, replyStream, type Headers } from "../respond.js";
import type { Route } from "../routes.js";

type BlobRoute = Extract<Route, { kind: "blob" }>;

/** The byte range a `Range` header asks of a blob of `size` bytes: undefined for the whole; 416 RANGE_INVALID when it lies outside. */
export function requestedRange(header: string | undefined, size: number): ByteRange | undefined {
  const range = parseRangeHeader(header, size);
  if (range.kind === "unsatisfiable") {
    throw new RegistryError("RANGE_INVALID", "requested range not satisfiable", { size }, {
      headers: { "Content-Range": `bytes */${size}` },
    });
  }
  return range.kind === "satisfiable" ? range.range : undefined;
}

/** The length and Content-Range of a 206 answer. */
export function partialHeaders({ start, end }: ByteRange, size: number): Headers {
  return { "Content-Length": end - start + 1, "Content-Range": `bytes ${start}-${end}/${size}` };
}

/** GET / HEAD / DELETE /v2/<name>/blobs/<digest> */
export const handleBlob: Handler<BlobRoute> = async (ctx, route) => {
  const { req, res, registry } = ctx;
  const digest = parseDigest(route.digest);
  if (req.method === "DELETE") {
    await registry.blobs.delete(route.name, digest, ctx.origin);
    reply(res, 202, { "Docker-Content-Digest": digest });
    return;
  }
  const { size } = await registry.blobs.stat(route.name, digest);
  if (req.method === "GET") {
    const location = await registry.blobs.redirectUrl(route.name, digest);
    if (location) {
      reply(res, 307, { Location: location, "Docker-Content-Digest": digest });
      return;
    }
  }
  const headers: Headers = {
    "Content-Type": "application/octet-stream",
    "Docker-Content-Digest": digest,
    "Accept-Ranges": "bytes",
    ETag: `"${digest}"`,
    "Cache-Control": "max-age=31536000",
  };
  const range = requestedRange(req.headers.range, size);
  if (req.method === "HEAD") {
    reply(res, 200, { ...headers, "Content-Length": size });
    return;
  }
  if (range) {
    const body = await registry.blobs.open(route.name, digest, range);
    await replyStream(res, 206, { ...headers, ...partialHeaders(range, size) }, body.stream);
    return;
  }
  const body = await registry.blobs.open(route.name, digest);
  await replyStream(res, 200, { ...headers, "Content-Length": body.size }, body.stream);
};
