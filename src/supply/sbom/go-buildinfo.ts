import type { Package } from "../packages.js";
import { purl } from "./purl.js";

const MAGIC = Buffer.from("\xff Go buildinf:", "latin1");
const ALIGN = 16;
const HEADER = 32;
/** More than any real build info (a module list of thousands of lines is ~200 KiB). */
const MAX_INFO = 2 << 20;
const FLAG_VERSION_INLINE = 0x2;
const SENTINEL = 16;

/** What Go writes into every binary it links since 1.18: the toolchain version and the module list (`go version -m`). */
export interface GoBuildInfo {
  goVersion: string;
  /** The main package's import path (`path` line). */
  path?: string;
  main?: { path: string; version: string };
  deps: { path: string; version: string }[];
}

/** Whether a file's first bytes are an ELF header. */
export function isElf(head: Buffer): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

function uvarint(buf: Buffer, at: number): [value: number, next: number] | undefined {
  let value = 0;
  for (let shift = 0, i = at; i < buf.length && shift < 35; i++, shift += 7) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i + 1];
  }
  return undefined;
}

/** Decodes the Go ≥ 1.18 inline form from its 32-byte header on; "incomplete" when `buf` ends too early. */
function decode(buf: Buffer): GoBuildInfo | "incomplete" | undefined {
  if (buf.length < HEADER) return "incomplete";
  if ((buf[15]! & FLAG_VERSION_INLINE) === 0) return undefined; // pre-1.18 pointer form: not supported
  const strings: string[] = [];
  let at = HEADER;
  for (let i = 0; i < 2; i++) {
    const n = uvarint(buf, at);
    if (!n) return buf.length - at < 10 ? "incomplete" : undefined;
    const [len, start] = n;
    if (len > MAX_INFO) return undefined;
    if (start + len > buf.length) return "incomplete";
    strings.push(buf.toString("utf8", start, start + len));
    at = start + len;
  }
  let mod = strings[1]!;
  if (mod.length >= 2 * SENTINEL + 1 && mod[mod.length - SENTINEL - 1] === "\n") mod = mod.slice(SENTINEL, -SENTINEL);
  return { goVersion: strings[0]!, ...parseModInfo(mod) };
}

/** Parses the `path` / `mod` / `dep` / `=>` lines of `go version -m` (a `=>` line replaces the module above it). */
export function parseModInfo(text: string): Omit<GoBuildInfo, "goVersion"> {
  const info: Omit<GoBuildInfo, "goVersion"> = { deps: [] };
  let last: { path: string; version: string } | undefined;
  for (const line of text.split("\n")) {
    const [kind, path, version = ""] = line.split("\t");
    if (!path) continue;
    if (kind === "path") info.path = path;
    else if (kind === "mod") info.main = last = { path, version };
    else if (kind === "dep") info.deps.push((last = { path, version }));
    else if (kind === "=>" && last && version) Object.assign(last, { path, version });
  }
  return info;
}

/**
 * Finds Go build info while a file streams past: feed it every chunk in order; memory stays at a
 * few bytes of carry-over until the magic shows up at a 16-byte aligned offset, then at most the
 * build info itself. `done` tells the caller it may stop feeding.
 */
export interface GoBuildInfoScanner {
  push(chunk: Buffer): void;
  readonly done: boolean;
  result(): GoBuildInfo | undefined;
}

export function createGoBuildInfoScanner(): GoBuildInfoScanner {
  let offset = 0; // file offset of carry[0]
  let carry = Buffer.alloc(0);
  let info: Buffer[] | undefined;
  let infoLength = 0;
  let found: GoBuildInfo | undefined;
  let done = false;

  const tryDecode = () => {
    const whole = Buffer.concat(info!, infoLength);
    info = [whole];
    const r = decode(whole);
    if (r === "incomplete" && infoLength < MAX_INFO) return;
    found = r === "incomplete" ? undefined : r;
    done = true;
    info = undefined;
  };

  return {
    push(chunk) {
      if (done) return;
      if (info) {
        info.push(chunk);
        infoLength += chunk.length;
        tryDecode();
        return;
      }
      const keep = MAGIC.length - 1;
      const base = offset + carry.length; // file offset of chunk[0]
      // A magic straddling the previous chunk and this one: search only the seam, never copy whole chunks.
      if (carry.length > 0) {
        const seam = Buffer.concat([carry, chunk.subarray(0, keep)]);
        for (let i = seam.indexOf(MAGIC); i >= 0 && i < carry.length; i = seam.indexOf(MAGIC, i + 1)) {
          if ((offset + i) % ALIGN !== 0) continue;
          info = [carry.subarray(i), chunk];
          infoLength = carry.length - i + chunk.length;
          tryDecode();
          return;
        }
      }
      for (let i = chunk.indexOf(MAGIC); i >= 0; i = chunk.indexOf(MAGIC, i + 1)) {
        if ((base + i) % ALIGN !== 0) continue;
        info = [chunk.subarray(i)];
        infoLength = chunk.length - i;
        tryDecode();
        return;
      }
      const tail = chunk.length >= keep ? chunk.subarray(chunk.length - keep) : Buffer.concat([carry, chunk]).subarray(-keep);
      offset = base + chunk.length - tail.length;
      carry = Buffer.from(tail);
    },
    get done() {
      return done;
    },
    result() {
      if (!done && info) {
        const r = decode(Buffer.concat(info, infoLength));
        return r === "incomplete" ? undefined : r;
      }
      return found;
    },
  };
}

/** The modules of a Go binary as packages: the main module, every dependency, and the standard library (`stdlib`, as OSV names it). */
export function goPackages(info: GoBuildInfo, location: string): Package[] {
  const pkg = (name: string, version: string): Package => ({
    ecosystem: "Go",
    name,
    version,
    purl: purl("golang", name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : undefined, name.slice(name.lastIndexOf("/") + 1), version === "(devel)" ? undefined : version),
    locations: [location],
  });
  const out: Package[] = [];
  if (info.main) out.push(pkg(info.main.path, info.main.version || "(devel)"));
  for (const d of info.deps) if (d.version) out.push(pkg(d.path, d.version));
  const go = /^go(\d+\.\d+(?:\.\d+)?)/.exec(info.goVersion);
  if (go) out.push(pkg("stdlib", `v${go[1]}`));
  return out;
}
