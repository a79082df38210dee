import type { VersionOrder } from "./version-order.js";

/**
 * Alpine apk-tools version order (apk_version_compare of apk-tools 2.x):
 * `1.2.3` numeric components (a component with leading zeros sorts as a fraction: `1.01 < 1.1`),
 * an optional single lower-case letter (`1.2a > 1.2`), suffixes `_alpha < _beta < _pre < _rc` before
 * the release and `_cvs < _svn < _git < _hg < _p` after it, each with an optional number,
 * then the package revision `-rN`.
 */
export const apk: VersionOrder = { name: "apk", compare, valid };

// Same order as apk-tools' enum PARTS: a version that ends while the other goes on compares by these.
const enum T {
  Invalid = -1,
  DigitOrZero = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNo = 4,
  RevisionNo = 5,
  End = 6,
}

const PRE = ["alpha", "beta", "pre", "rc"];
const POST = ["cvs", "svn", "git", "hg", "p"];

class Tokens {
  type: T = T.Digit;
  private i = 0;
  constructor(private readonly s: string) {}

  /** apk-tools' get_token: reads one token of the current type, then moves `type` to the next one. */
  next(): number {
    const s = this.s;
    let i = this.i;
    let v = 0;
    let nt: T = T.Invalid;
    if (i >= s.length) {
      this.type = T.End;
      return 0;
    }
    switch (this.type) {
      case T.DigitOrZero:
        // Leading zeros make the component a fraction-like value below any plain number.
        if (s[i] === "0") {
          while (i < s.length && s[i] === "0") i++;
          v = -(i - this.i);
          nt = T.Digit;
        } else {
          while (i < s.length && isDigit(s[i]!)) v = v * 10 + (s.charCodeAt(i++) - 48);
        }
        break;
      case T.Digit:
      case T.SuffixNo:
      case T.RevisionNo:
        while (i < s.length && isDigit(s[i]!)) v = v * 10 + (s.charCodeAt(i++) - 48);
        break;
      case T.Letter:
        v = s.charCodeAt(i++);
        break;
      case T.Suffix: {
        const rest = s.slice(i);
        const pre = PRE.findIndex((x) => rest.startsWith(x));
        if (pre >= 0) {
          i += PRE[pre]!.length;
          v = pre - PRE.length;
          break;
        }
        const post = POST.findIndex((x) => rest.startsWith(x));
        if (post >= 0) {
          i += POST[post]!.length;
          v = post;
          break;
        }
        this.type = T.Invalid;
        return -1;
      }
      default:
        this.type = T.Invalid;
        return -1;
    }
    this.i = i;
    if (i >= s.length) this.type = T.End;
    else if (nt !== T.Invalid) this.type = nt;
    else this.advance();
    return v;
  }

  /** apk-tools' next_token: reads the separator after a token and decides the next token's type. */
  private advance(): void {
    const s = this.s;
    const c = s[this.i]!;
    let n: T = T.Invalid;
    if ((this.type === T.Digit || this.type === T.DigitOrZero) && c >= "a" && c <= "z") n = T.Letter;
    else if (this.type === T.Letter && isDigit(c)) n = T.Digit;
    else if (this.type === T.Suffix && isDigit(c)) n = T.SuffixNo;
    else {
      if (c === ".") n = T.DigitOrZero;
      else if (c === "_") n = T.Suffix;
      else if (c === "-" && s[this.i + 1] === "r") {
        n = T.RevisionNo;
        this.i++;
      }
      this.i++;
    }
    if (n < this.type) {
      const allowed =
        (n === T.DigitOrZero && this.type === T.Digit) ||
        (n === T.Suffix && this.type === T.SuffixNo) ||
        (n === T.Digit && this.type === T.Letter);
      if (!allowed) n = T.Invalid;
    }
    this.type = n;
  }
}

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

export function valid(version: string): boolean {
  if (!/^[0-9]/.test(version)) return false;
  const t = new Tokens(version);
  while (t.type !== T.End) {
    t.next();
    if (t.type === T.Invalid) return false;
  }
  return true;
}

export function compare(a: string, b: string): number {
  const ta = new Tokens(a);
  const tb = new Tokens(b);
  let av = 0;
  let bv = 0;
  while (ta.type === tb.type && ta.type !== T.End && ta.type !== T.Invalid && av === bv) {
    av = ta.next();
    bv = tb.next();
  }
  if (av < bv) return -1;
  if (av > bv) return 1;
  if (ta.type === tb.type) return 0;
  // Equal so far and one goes on: the longer is newer unless what follows is a pre-release suffix.
  if (ta.type === T.Suffix && ta.next() < 0) return -1;
  if (tb.type === T.Suffix && tb.next() < 0) return 1;
  if (ta.type > tb.type) return -1;
  if (tb.type > ta.type) return 1;
  return 0;
}
