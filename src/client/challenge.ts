/**
 * `WWW-Authenticate` challenges as registries send them (RFC 7235): a scheme and its
 * parameters, e.g. `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`.
 */
export interface Challenge {
  /** Lowercased: `bearer`, `basic`. */
  scheme: string;
  /** Parameter names lowercased, quoted values unquoted (`\"` → `"`). */
  params: Record<string, string>;
}

const SCHEME = /\s*([A-Za-z][\w!#$%&'*+.^`|~-]*)/y;
const PARAM = /[\s,]*([\w!#$%&'*+.^`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/y;

/**
 * The first challenge of a header value; undefined when there is none. Node joins repeated
 * `WWW-Authenticate` headers with ", ", so `Bearer realm="a", Basic realm="b"` is two challenges:
 * the parameters stop where the next scheme starts.
 */
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  SCHEME.lastIndex = 0;
  const scheme = SCHEME.exec(value);
  if (!scheme) return undefined;
  const params: Record<string, string> = {};
  PARAM.lastIndex = SCHEME.lastIndex;
  for (let m = PARAM.exec(value); m; m = PARAM.exec(value)) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!;
  }
  return { scheme: scheme[1]!.toLowerCase(), params };
}
