/**
 * OSV records (schema 1.6, also reading the 1.7 `upstream` field), as the per-ecosystem `all.zip`
 * exports hold them. Only the fields Berth uses are kept; unknown fields are ignored, never refused,
 * so records from newer schema versions still load.
 */
export interface OsvRecord {
  id: string;
  modified: string;
  schema_version?: string;
  published?: string;
  withdrawn?: string;
  aliases: string[];
  /** Schema 1.7: the upstream identifiers (often the CVE) this record derives from. */
  upstream: string[];
  related: string[];
  summary?: string;
  details?: string;
  severity: OsvSeverity[];
  affected: OsvAffected[];
  references: { type: string; url: string }[];
  database_specific?: Record<string, unknown>;
}

/** `score` is a CVSS vector for the CVSS types, a word (`medium`) for `Ubuntu`. */
export interface OsvSeverity {
  type: "CVSS_V2" | "CVSS_V3" | "CVSS_V4" | "Ubuntu" | (string & {});
  score: string;
}

export interface OsvAffected {
  /** Absent when the record only names commits (GIT ranges); such entries never match a package. */
  package?: { ecosystem: string; name: string; purl?: string };
  severity: OsvSeverity[];
  ranges: OsvRange[];
  versions: string[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

export interface OsvRange {
  type: "SEMVER" | "ECOSYSTEM" | "GIT" | (string & {});
  repo?: string;
  events: OsvEvent[];
}

export type OsvEvent = { introduced: string } | { fixed: string } | { last_affected: string } | { limit: string };

/** A record that is not OSV; the message names the record (when it has an id) and the field. */
export class OsvParseError extends Error {
  override name = "OsvParseError";
}

const EVENT_KINDS = ["introduced", "fixed", "last_affected", "limit"] as const;

/**
 * Validates and narrows one OSV record (JSON text or an already parsed value). Throws OsvParseError
 * with the record id and the path of the first wrong field; unknown fields are ignored.
 */
export function parseOsvRecord(json: unknown): OsvRecord {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new OsvParseError(`OSV record: not JSON (${(err as Error).message})`);
    }
  }
  const r = new Reader(value);
  const id = r.string(value, "id");
  r.id = id;
  return {
    id,
    modified: r.string(value, "modified"),
    schema_version: r.optionalString(value, "schema_version"),
    published: r.optionalString(value, "published"),
    withdrawn: r.optionalString(value, "withdrawn"),
    aliases: r.strings(value, "aliases"),
    upstream: r.strings(value, "upstream"),
    related: r.strings(value, "related"),
    summary: r.optionalString(value, "summary"),
    details: r.optionalString(value, "details"),
    severity: r.list(value, "severity", (s, path) => severityOf(r, s, path)),
    affected: r.list(value, "affected", (a, path) => affectedOf(r, a, path)),
    references: r.list(value, "references", (ref, path) => ({
      type: r.string(ref, "type", path),
      url: r.string(ref, "url", path),
    })),
    database_specific: r.optionalObject(value, "database_specific"),
  };
}

function severityOf(r: Reader, s: unknown, path: string): OsvSeverity {
  return { type: r.string(s, "type", path), score: r.string(s, "score", path) };
}

function affectedOf(r: Reader, a: unknown, path: string): OsvAffected {
  const pkg = r.optionalObject(a, "package", path);
  return {
    package:
      pkg === undefined
        ? undefined
        : {
            ecosystem: r.string(pkg, "ecosystem", `${path}.package`),
            name: r.string(pkg, "name", `${path}.package`),
            purl: r.optionalString(pkg, "purl", `${path}.package`),
          },
    severity: r.list(a, "severity", (s, p) => severityOf(r, s, p), path),
    ranges: r.list(a, "ranges", (range, p) => rangeOf(r, range, p), path),
    versions: r.strings(a, "versions", path),
    ecosystem_specific: r.optionalObject(a, "ecosystem_specific", path),
    database_specific: r.optionalObject(a, "database_specific", path),
  };
}

function rangeOf(r: Reader, range: unknown, path: string): OsvRange {
  const events = r.list(range, "events", (e, p) => eventOf(r, e, p), path);
  if (events.length === 0) r.fail(`${path}.events`, "must hold at least one event");
  return { type: r.string(range, "type", path), repo: r.optionalString(range, "repo", path), events };
}

function eventOf(r: Reader, e: unknown, path: string): OsvEvent {
  if (!isObject(e)) return r.fail(path, "must be an object");
  const kinds = EVENT_KINDS.filter((k) => k in e);
  if (kinds.length !== 1) return r.fail(path, `must hold exactly one of ${EVENT_KINDS.join(", ")}`);
  const kind = kinds[0]!;
  return { [kind]: r.string(e, kind, path) } as OsvEvent;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Field readers that name the record and the JSON path in every complaint. */
class Reader {
  id: string | undefined;
  constructor(root: unknown) {
    if (!isObject(root)) this.fail("", "must be a JSON object");
  }

  fail(path: string, problem: string): never {
    const where = path ? ` ${path}` : "";
    throw new OsvParseError(`OSV record${this.id ? ` ${this.id}` : ""}:${where} ${problem}`);
  }

  private field(obj: unknown, key: string, path: string): unknown {
    if (!isObject(obj)) this.fail(path, "must be an object");
    return obj[key];
  }

  string(obj: unknown, key: string, path = ""): string {
    const v = this.field(obj, key, path);
    if (typeof v !== "string" || v === "") this.fail(join(path, key), "must be a non-empty string");
    return v;
  }

  optionalString(obj: unknown, key: string, path = ""): string | undefined {
    const v = this.field(obj, key, path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") this.fail(join(path, key), "must be a string");
    return v;
  }

  optionalObject(obj: unknown, key: string, path = ""): Record<string, unknown> | undefined {
    const v = this.field(obj, key, path);
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) this.fail(join(path, key), "must be an object");
    return v;
  }

  list<T>(obj: unknown, key: string, item: (v: unknown, path: string) => T, path = ""): T[] {
    const v = this.field(obj, key, path);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(join(path, key), "must be an array");
    return v.map((x, i) => item(x, `${join(path, key)}[${i}]`));
  }

  strings(obj: unknown, key: string, path = ""): string[] {
    return this.list(obj, key, (x, p) => (typeof x === "string" ? x : this.fail(p, "must be a string")), path);
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
