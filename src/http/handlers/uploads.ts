import { DEFAULT_ALGORITHM, isDigestAlgorithm, parseDigest, type DigestAlgorithm } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import { parseContentRange, uploadRangeHeader, type ByteRange } from "../../oci/range.js";
import type { CommittedBlob, UploadStatus } from "../../registry/uploads.js";
import type { Handler, RequestContext } from "../context.js";
import { hasBody, reply } from "../respond.js";
import { routePaths, type Route } from "../routes.js";

type UploadsRoute = Extract<Route, { kind: "uploads" }>;
type UploadRoute = Extract<Route, { kind: "upload" }>;

function algorithmParam(url: URL): DigestAlgorithm {
  const value = url.searchParams.get("digest-algorithm");
  if (value === null) return DEFAULT_ALGORITHM;
  if (!isDigestAlgorithm(value)) {
    throw new RegistryError("DIGEST_INVALID", `unsupported digest algorithm ${value}`, { algorithm: value });
  }
  return value;
}

function digestParam(url: URL) {
  const value = url.searchParams.get("digest");
  if (value === null) throw new RegistryError("DIGEST_INVALID", "the digest query parameter is required");
  return parseDigest(value);
}

/** The chunk's Content-Range, checked against Content-Length when both are present. */
function chunkRange({ req }: RequestContext): ByteRange | undefined {
  const header = req.headers["content-range"];
  if (header === undefined) return undefined;
  const range = parseContentRange(header);
  if (!range) throw new RegistryError("RANGE_INVALID", "malformed Content-Range", { contentRange: header });
  const length = req.headers["content-length"];
  if (length !== undefined && Number(length) !== range.end - range.start + 1) {
    throw new RegistryError("SIZE_INVALID", "Content-Length does not match Content-Range", {
      contentLength: Number(length),
      contentRange: header,
    });
  }
  return range;
}

/** The request's Content-Length, when it declares one. */
function declaredLength({ req }: RequestContext): number | undefined {
  const value = Number(req.headers["content-length"] ?? NaN);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** The registry's quota warning, when the result carries one, as the `Berth-Quota-Warning` header. */
function quotaWarningHeader(result: { quotaWarning?: string }): Record<string, string> {
  return result.quotaWarning === undefined ? {} : { "Berth-Quota-Warning": result.quotaWarning };
}

function replyUploadStatus({ res }: RequestContext, name: string, status: number, upload: UploadStatus): void {
  reply(res, status, {
    ...quotaWarningHeader(upload),
    Location: routePaths.upload(name, upload.id),
    Range: uploadRangeHeader(upload.size),
    "Docker-Upload-UUID": upload.id,
  });
}

function replyCommitted({ res }: RequestContext, name: string, blob: CommittedBlob): void {
  reply(res, 201, { ...quotaWarningHeader(blob), Location: routePaths.blob(name, blob.digest), "Docker-Content-Digest": blob.digest });
}

/** POST /v2/<name>/blobs/uploads/ — start an upload, push a whole blob, or mount one. */
export const handleUploads: Handler<UploadsRoute> = async (ctx, { name }) => {
  const { url, registry } = ctx;
  const algorithm = algorithmParam(url);
  const mount = url.searchParams.get("mount");
  if (mount !== null) {
    let from = url.searchParams.get("from") ?? undefined;
    // Without pull on `from` (for a bearer token: in its own grant) the caller gets a plain upload
    // session: the blob is never leaked.
    if (from !== undefined && !(await ctx.guard.canMountFrom(ctx.caller, from))) from = undefined;
    const result = await registry.uploads.mount(name, parseDigest(mount), from, algorithm, ctx.origin);
    if (result.mounted) replyCommitted(ctx, name, result.blob);
    else replyUploadStatus(ctx, name, 202, result.upload);
    return;
  }
  if (url.searchParams.has("digest")) {
    replyCommitted(ctx, name, await registry.uploads.putWhole(name, digestParam(url), ctx.req, declaredLength(ctx), ctx.origin));
    return;
  }
  replyUploadStatus(ctx, name, 202, await registry.uploads.start(name, algorithm, ctx.origin));
};

/** GET / PATCH / PUT / DELETE /v2/<name>/blobs/uploads/<id> */
export const handleUpload: Handler<UploadRoute> = async (ctx, { name, id }) => {
  const { req, url, registry, res } = ctx;
  switch (req.method) {
    case "GET":
    case "HEAD":
      replyUploadStatus(ctx, name, 204, await registry.uploads.status(name, id));
      return;
    case "PATCH":
      replyUploadStatus(ctx, name, 202, await registry.uploads.append(name, id, req, chunkRange(ctx), declaredLength(ctx), ctx.origin));
      return;
    case "PUT": {
      const digest = digestParam(url);
      const blob = hasBody(req)
        ? await registry.uploads.finish(name, id, digest, req, chunkRange(ctx), declaredLength(ctx), ctx.origin)
        : await registry.uploads.finish(name, id, digest, undefined, undefined, undefined, ctx.origin);
      replyCommitted(ctx, name, blob);
      return;
    }
    case "DELETE":
      await registry.uploads.cancel(name, id);
      reply(res, 204);
      return;
  }
};
