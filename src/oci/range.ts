/** Byte ranges: the `Content-Range` of upload chunks and the `Range` of blob reads. */

/** An inclusive byte range, as HTTP writes it. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses an upload chunk's `Content-Range`. The spec writes it `<start>-<end>`; some clients
 * prefix `bytes ` or `bytes=` and append `/<total>`, which are accepted too. Returns undefined
 * when malformed.
 */
export function parseContentRange(value: string): ByteRange | undefined {
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(value.trim());
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

export type RangeRequest =
  | { kind: "none" }
  | { kind: "satisfiable"; range: ByteRange }
  | { kind: "unsatisfiable" };

/**
 * Interprets a request `Range` header against a blob of `size` bytes (RFC 9110 §14). Only single
 * ranges are served; a multi-range or malformed header is ignored (the whole blob is sent), which
 * the RFC allows.
 */
export function parseRangeHeader(value: string | undefined, size: number): RangeRequest {
  if (value === undefined) return { kind: "none" };
  const match = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!match || (match[1] === "" && match[2] === "")) return { kind: "none" };
  let start: number;
  let end: number;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (match[2] !== "" && Number(match[2]) < start) return { kind: "none" };
    if (start >= size) return { kind: "unsatisfiable" };
  }
  return { kind: "satisfiable", range: { start, end } };
}

/** The `Range` header value that reports an upload's progress: `0-<last byte>`, `0-0` when empty. */
export function uploadRangeHeader(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}
