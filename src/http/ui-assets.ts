import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RegistryError } from "../oci/errors.js";

/** Where `npm run build:ui` writes the web UI, relative to this compiled file (dist/src/http/ → dist/ui/). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL("../../ui/", import.meta.url));

/**
 * Pages under /ui/ run no script but the bundle, load nothing from elsewhere, and cannot be framed:
 * pushed content that reached the page as markup still could not run.
 */
export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
}

/** Serves the built web UI; `handle` answers a request it owns and returns false for any other. */
export interface UiAssets {
  /** Whether `dist/ui/` held a build when the server started. */
  readonly built: boolean;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
}

/** Whether a request to `/` comes from a browser (it asks for HTML), which is sent to the UI. */
const wantsHtml = (req: IncomingMessage) => (req.headers.accept ?? "").includes("text/html");

/**
 * The UI's files, read once at start-up (they are small and never change while running):
 * `/ui/assets/<name>` with content-hashed names, cached for a year and sent gzipped when the
 * browser accepts it; every other `/ui/…` path answers index.html, where the client routes it.
 */
export function createUiAssets(dir: string = DEFAULT_UI_DIR): UiAssets {
  const index = join(dir, "index.html");
  const built = existsSync(index);
  const assets = new Map<string, Asset>();
  let html: Buffer | undefined;
  if (built) {
    html = readFileSync(index);
    const assetDir = join(dir, "assets");
    for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
      if (name.endsWith(".gz")) continue;
      const ext = name.slice(name.lastIndexOf("."));
      const gz = join(assetDir, `${name}.gz`);
      assets.set(name, { body: readFileSync(join(assetDir, name)), type: TYPES[ext] ?? "application/octet-stream", ...(existsSync(gz) ? { gzip: readFileSync(gz) } : {}) });
    }
  }

  const send = (req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, asset: Asset) => {
    const gzip = asset.gzip && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const body = gzip ? asset.gzip! : asset.body;
    res.writeHead(status, {
      ...headers,
      "Content-Type": asset.type,
      "Content-Length": String(body.length),
      Vary: "Accept-Encoding",
      ...(gzip ? { "Content-Encoding": "gzip" } : {}),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };

  return {
    built,
    handle(req, res, url) {
      const path = url.pathname;
      const method = req.method ?? "GET";
      if (path === "/" && (method === "GET" || method === "HEAD") && wantsHtml(req)) {
        res.writeHead(302, { Location: "/ui/", "Content-Length": "0" }).end();
        return true;
      }
      if (path !== "/ui" && !path.startsWith("/ui/")) return false;
      if (method !== "GET" && method !== "HEAD") {
        throw new RegistryError("UNSUPPORTED", `method ${method} not allowed here`, undefined, { headers: { Allow: "GET, HEAD" } });
      }
      if (path === "/ui") {
        res.writeHead(301, { Location: `/ui/${url.search}`, "Content-Length": "0" }).end();
        return true;
      }
      if (!html) throw new RegistryError("NOT_FOUND", "the web UI is not built: run `npm run build:ui` (npm ci does it)", undefined, { status: 404 });
      if (path.startsWith("/ui/assets/")) {
        const asset = assets.get(path.slice("/ui/assets/".length));
        if (!asset) throw new RegistryError("NOT_FOUND", "no such file of the web UI", { path }, { status: 404 });
        send(req, res, 200, { "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff" }, asset);
        return true;
      }
      send(req, res, 200, { ...UI_SECURITY_HEADERS, "Cache-Control": "no-cache" }, { body: html, type: TYPES[".html"]! });
      return true;
    },
  };
}
