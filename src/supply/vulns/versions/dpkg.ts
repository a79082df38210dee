import type { VersionOrder } from "./version-order.js";

/**
 * Debian policy §5.6.12 version order (`[epoch:]upstream[-revision]`), as dpkg's verrevcmp:
 * `~` sorts before everything (even the end of the string), letters before other characters,
 * digit runs compare as numbers. Ubuntu versions follow the same order.
 */
export const dpkg: VersionOrder = { name: "dpkg", compare, valid };

interface Parsed {
  epoch: number;
  upstream: string;
  revision: string;
}

/** dpkg's parseversion: epoch before the first colon, revision after the last hyphen (may be empty). */
function parse(version: string): Parsed {
  let rest = version.trim();
  let epoch = 0;
  const colon = rest.indexOf(":");
  if (colon >= 0) {
    epoch = /^\d+$/.test(rest.slice(0, colon)) ? Number(rest.slice(0, colon)) : Number.NaN;
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf("-");
  if (hyphen < 0) return { epoch, upstream: rest, revision: "" };
  return { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) };
}

/** Debian policy's rules: numeric epoch, upstream starting with a digit, only the allowed characters. */
export function valid(version: string): boolean {
  const p = parse(version);
  return (
    Number.isSafeInteger(p.epoch) &&
    /^[0-9][0-9A-Za-z.+~:-]*$/.test(p.upstream) &&
    /^[0-9A-Za-z.+~]*$/.test(p.revision)
  );
}

export function compare(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  const ea = pa.epoch || 0;
  const eb = pb.epoch || 0;
  if (ea !== eb) return ea < eb ? -1 : 1;
  return sign(verrevcmp(pa.upstream, pb.upstream)) || sign(verrevcmp(pa.revision, pb.revision));
}

function order(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (c === 126 /* ~ */) return -1;
  if (c >= 48 && c <= 57) return 0;
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c;
  return c + 256;
}

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
}

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a, i)) || (j < b.length && !isDigit(b, j))) {
      const diff = order(a, i) - order(b, j);
      if (diff) return diff;
      i++;
      j++;
    }
    while (a[i] === "0") i++;
    while (b[j] === "0") j++;
    let firstDiff = 0;
    while (isDigit(a, i) && isDigit(b, j)) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a, i)) return 1;
    if (isDigit(b, j)) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}
