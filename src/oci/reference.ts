import { RegistryError } from "./errors.js";
import { parseDigest, type Digest, looksLikeDigest } from "./digest.js";

/** Repository names and tags, as the distribution spec defines them. */

const COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * The longest repository name Berth accepts. Clients limit `host/name` to 255 characters, so a
 * name of 255 could never be pulled through a real host name; 255 still matches distribution.
 */
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

export function parseName(name: string): string {
  if (name.length > MAX_NAME_LENGTH) {
    throw new RegistryError("NAME_INVALID", `repository name longer than ${MAX_NAME_LENGTH} characters`, { name });
  }
  if (!NAME_RE.test(name)) throw new RegistryError("NAME_INVALID", "invalid repository name", { name });
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function parseTag(tag: string): string {
  if (!TAG_RE.test(tag)) throw new RegistryError("TAG_INVALID", "invalid tag", { tag });
  return tag;
}

/** A manifest reference from a URL: either a tag or a digest. */
export type Reference = { kind: "tag"; tag: string } | { kind: "digest"; digest: Digest };

export function parseReference(value: string): Reference {
  if (looksLikeDigest(value)) return { kind: "digest", digest: parseDigest(value) };
  return { kind: "tag", tag: parseTag(value) };
}
