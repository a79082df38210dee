/**
 * The registry's one error type and the table that maps OCI error codes to HTTP statuses.
 * Every failure a client or an operator can cause is a RegistryError: the HTTP layer turns it into
 * `{"errors":[{"code","message","detail"}]}` with the status from ERROR_STATUS, and the CLI into
 * one line and exit 2 (a 4xx status) or 1. The OCI codes come first; the last few are Berth's own,
 * for its management API and commands.
 */

export const ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  TAG_INVALID: 400,
  PAGINATION_NUMBER_INVALID: 400,
  UNAVAILABLE: 503,
  /** Berth's own: the request conflicts with what is stored (deleting a namespace that holds repositories). */
  CONFLICT: 409,
  /** Berth's own, for the management API and the CLI: a value that is not acceptable (a short password, a bad role). */
  INVALID: 400,
  /** Berth's own, for the management API and the CLI: the user, token, namespace member or endpoint does not exist. */
  NOT_FOUND: 404,
  UNKNOWN: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Default human message per code, used when a call site has nothing more precise to say. */
export const ERROR_MESSAGE: Record<ErrorCode, string> = {
  BLOB_UNKNOWN: "blob unknown to registry",
  BLOB_UPLOAD_INVALID: "blob upload invalid",
  BLOB_UPLOAD_UNKNOWN: "blob upload unknown to registry",
  DIGEST_INVALID: "provided digest did not match uploaded content",
  MANIFEST_BLOB_UNKNOWN: "manifest references a blob unknown to the repository",
  MANIFEST_INVALID: "manifest invalid",
  MANIFEST_UNKNOWN: "manifest unknown",
  NAME_INVALID: "invalid repository name",
  NAME_UNKNOWN: "repository name not known to registry",
  SIZE_INVALID: "provided length did not match content length",
  UNAUTHORIZED: "authentication required",
  DENIED: "requested access to the resource is denied",
  UNSUPPORTED: "the operation is unsupported",
  TOOMANYREQUESTS: "too many requests",
  RANGE_INVALID: "invalid content range",
  TAG_INVALID: "manifest tag did not match URI",
  PAGINATION_NUMBER_INVALID: "invalid number of results requested",
  UNAVAILABLE: "service unavailable",
  CONFLICT: "the request conflicts with the current state",
  INVALID: "the request is invalid",
  NOT_FOUND: "not found",
  UNKNOWN: "unknown error",
};

export interface RegistryErrorOptions {
  /** Overrides the table's status where the spec asks for another one (413 for an oversized manifest). */
  status?: number;
  /** Extra response headers, e.g. the current `Range` of an upload on a 416. */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, detail?: unknown, options: RegistryErrorOptions = {}) {
    super(message ?? ERROR_MESSAGE[code], { cause: options.cause });
    this.name = "RegistryError";
    this.code = code;
    this.detail = detail;
    this.status = options.status ?? ERROR_STATUS[code];
    this.headers = options.headers ?? {};
  }

  /** The OCI error body for this error. */
  toJSON(): { errors: { code: ErrorCode; message: string; detail?: unknown }[] } {
    const entry: { code: ErrorCode; message: string; detail?: unknown } = { code: this.code, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}
