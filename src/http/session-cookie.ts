import type { IncomingMessage } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { RegistryError } from "../oci/errors.js";
import type { Session } from "../auth/sessions.js";

/** The web UI's session cookie. */
export const SESSION_COOKIE = "berth_session";
/** The header a signed-in page sends its CSRF token in, with every change. */
export const CSRF_HEADER = "x-berth-csrf";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The session cookie's value, when the request carries one. */
export function sessionCookieOf(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `Set-Cookie` for a new session (`value`) or, without one, the header that clears it. */
export function sessionCookieHeader(secure: boolean, value?: { cookie: string; expiresAt: number }): string {
  const attributes = ["Path=/", "HttpOnly", "SameSite=Strict", ...(secure ? ["Secure"] : [])];
  if (!value) return [`${SESSION_COOKIE}=`, "Max-Age=0", ...attributes].join("; ");
  const maxAge = Math.max(0, Math.floor((value.expiresAt - Date.now()) / 1000));
  return [`${SESSION_COOKIE}=${value.cookie}`, `Max-Age=${maxAge}`, ...attributes].join("; ");
}

/** Whether the request came over TLS, to Berth or to a proxy in front of it (then the cookie is `Secure`). */
export function isSecureRequest(req: IncomingMessage, tls: boolean): boolean {
  if (tls) return true;
  const forwarded = req.headers["x-forwarded-proto"];
  return typeof forwarded === "string" && forwarded.split(",")[0]!.trim() === "https";
}

/**
 * Refuses (403 DENIED) a change made with the session cookie that does not carry the session's
 * CSRF token: a page of another site can make the browser send the cookie (were it not
 * `SameSite=Strict`), but cannot read the token. Reads need none.
 */
export function checkCsrf(req: IncomingMessage, session: Session): void {
  if (SAFE_METHODS.has(req.method ?? "GET")) return;
  const sent = req.headers[CSRF_HEADER];
  const given = Buffer.from(typeof sent === "string" ? sent : "");
  const expected = Buffer.from(session.csrf);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new RegistryError("DENIED", "a change made from a signed-in browser must carry its CSRF token (the X-Berth-CSRF header)");
  }
}

/**
 * Refuses (403 DENIED) a change a browser sent from a page of another origin: browsers name the
 * page's origin in `Origin` on every cross-origin POST, PUT, PATCH and DELETE, and a plain HTML form
 * can POST to any address without asking. Registry clients send no `Origin`, so they are unaffected.
 */
export function checkSameOrigin(req: IncomingMessage): void {
  if (SAFE_METHODS.has(req.method ?? "GET")) return;
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    host = "";
  }
  if (host === "" || host !== req.headers.host) {
    throw new RegistryError("DENIED", "changes from a page of another site are refused", { origin });
  }
}
