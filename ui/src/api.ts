/**
 * The one way the UI talks to Berth: same-origin fetches (the session cookie goes along), the
 * CSRF token on every change, and Berth's OCI error JSON turned into an ApiError whose message is
 * the server's own.
 */

/** A refusal or failure from the API: the OCI error code, its message and the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf: string | null = null;

/** Set from the session (GET/POST /api/v1/session); sent as X-Berth-CSRF with every change. */
export function setCsrf(token: string | null): void {
  csrf = token;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE" | "HEAD";
  /** Sent as JSON. */
  body?: unknown;
  /** Query parameters; undefined and empty values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** Extra request headers (e.g. Accept for /v2/ manifests). */
  headers?: Record<string, string>;
}

/** The URL of an API path with its query. */
export function apiUrl(path: string, query?: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Sends a request and returns the response once it is OK; throws ApiError otherwise. */
export async function send(path: string, options: RequestOptions = {}): Promise<Response> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-Berth-CSRF"] = csrf;
  let res: Response;
  try {
    res = await fetch(apiUrl(path, options.query), {
      method,
      headers,
      credentials: "same-origin",
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch {
    throw new ApiError(0, "NETWORK", "Berth cannot be reached: check that the server is running");
  }
  if (res.ok) return res;
  let code = "UNKNOWN";
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
    const first = body.errors?.[0];
    if (first?.code) code = first.code;
    if (first?.message) message = first.message;
  } catch {
    // not JSON: keep the status line
  }
  throw new ApiError(res.status, code, message);
}

/** A JSON request: the parsed body. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const res = await send(path, options);
  const text = await res.text();
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

/** A path segment or a repository name (its slashes kept) for a URL. */
export const encodeName = (name: string): string => name.split("/").map(encodeURIComponent).join("/");
