/**
 * How a password check ended: `success`, `failure` (wrong password, unknown user, revoked or
 * expired robot token, bad refresh token), or `throttled` (refused unchecked by the login throttle).
 */
export type LoginOutcome = "success" | "failure" | "throttled";

/** Where the credentials came in: the token endpoint (`token`, `refresh` for a refresh token) or Basic on /v2/ (`basic`). */
export type LoginVia = "token" | "refresh" | "basic";

/** Told of every credential check, for metrics. Must not throw and must return quickly. */
export type LoginObserver = (outcome: LoginOutcome, via: LoginVia) => void;
