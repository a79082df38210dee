import type { IncomingMessage, ServerResponse } from "node:http";
import { RegistryError } from "../oci/errors.js";
import type { Logger } from "../logger.js";
import type { Registry } from "../registry/registry.js";
import type { Handler, RequestContext } from "./context.js";
import { handleBlob } from "./handlers/blobs.js";
import { handleCatalog, handleReferrers, handleTags } from "./handlers/listing.js";
import { handleManifest } from "./handlers/manifests.js";
import { handleUpload, handleUploads } from "./handlers/uploads.js";
import { reply, replyError } from "./respond.js";
import { parseV2Path, type Route } from "./routes.js";

export interface AppOptions {
  registry: Registry;
  logger: Logger;
  /** Answers /readyz with 503 while true (set during shutdown). */
  isDraining?: () => boolean;
}

export type App = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

type RouteTable = { [K in Route["kind"]]: { methods: string[]; handle: Handler<Extract<Route, { kind: K }>> } };

const ROUTES: RouteTable = {
  base: { methods: ["GET", "HEAD"], handle: async ({ res }) => reply(res, 200, {}, {}) },
  catalog: { methods: ["GET"], handle: handleCatalog },
  tags: { methods: ["GET"], handle: handleTags },
  manifest: { methods: ["GET", "HEAD", "PUT", "DELETE"], handle: handleManifest },
  blob: { methods: ["GET", "HEAD", "DELETE"], handle: handleBlob },
  uploads: { methods: ["POST"], handle: handleUploads },
  upload: { methods: ["GET", "HEAD", "PATCH", "PUT", "DELETE"], handle: handleUpload },
  referrers: { methods: ["GET"], handle: handleReferrers },
};

async function dispatch(ctx: RequestContext, route: Route): Promise<void> {
  const entry = ROUTES[route.kind] as { methods: string[]; handle: Handler<Route> };
  if (!entry.methods.includes(ctx.req.method ?? "")) {
    throw new RegistryError("UNSUPPORTED", `method ${ctx.req.method} not allowed here`, undefined, {
      headers: { Allow: entry.methods.join(", ") },
    });
  }
  await entry.handle(ctx, route);
}

async function health(ctx: RequestContext, draining: boolean): Promise<void> {
  if (ctx.url.pathname === "/healthz") return reply(ctx.res, 200, {}, { status: "ok" });
  if (draining) return reply(ctx.res, 503, {}, { status: "draining" });
  try {
    await ctx.registry.ping();
    reply(ctx.res, 200, {}, { status: "ready" });
  } catch (err) {
    ctx.logger.warn("not ready", { error: String(err) });
    reply(ctx.res, 503, {}, { status: "unavailable" });
  }
}

/** Counts the body bytes handed to the socket, so the access log is right even when the client hangs up early. */
function countBodyBytes(res: ServerResponse): { bytes: number } {
  const counter = { bytes: 0 };
  const size = (chunk: unknown) =>
    typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.byteLength : 0;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    counter.bytes += size(chunk);
    return write(chunk, ...rest);
  }) as ServerResponse["write"];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== "function") counter.bytes += size(chunk);
    return end(chunk, ...rest);
  }) as ServerResponse["end"];
  return counter;
}

/** The request handler: routes, the one error mapper, and one access-log line per request. */
export function createApp({ registry, logger, isDraining = () => false }: AppOptions): App {
  return async (req, res) => {
    const started = process.hrtime.bigint();
    const sent = countBodyBytes(res);
    res.on("close", () => {
      const expected = req.method === "HEAD" ? 0 : Number(res.getHeader("Content-Length") ?? sent.bytes);
      logger.info("request", {
        method: req.method,
        path: req.url,
        status: res.statusCode,
        bytes: sent.bytes,
        bytesIn: Number(req.headers["content-length"] ?? 0) || undefined,
        duration_ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        remote: req.socket.remoteAddress,
        aborted: sent.bytes < expected ? true : undefined,
      });
    });
    const url = new URL(req.url ?? "/", "http://berth.invalid");
    const ctx: RequestContext = { req, res, url, registry, logger };
    try {
      if (url.pathname === "/healthz" || url.pathname === "/readyz") return await health(ctx, isDraining());
      res.setHeader("Docker-Distribution-Api-Version", "registry/2.0");
      if (isDraining()) res.setHeader("Connection", "close");
      const route = parseV2Path(url.pathname);
      if (!route) throw new RegistryError("UNSUPPORTED", "no such API endpoint", { path: url.pathname }, { status: 404 });
      await dispatch(ctx, route);
    } catch (err) {
      replyError(req, res, err, logger);
    }
  };
}
