import { RegistryError } from "../oci/errors.js";
import type { StoredManifest } from "../storage/metadata-store.js";

/** Why a pull is refused: the policy's name as the configuration gives it, and the whole message a client sees. */
export interface PullRefusal {
  policy: string;
  message: string;
}

/**
 * One policy family that may refuse manifest pulls (signatures, vulnerabilities). The gate asks
 * `appliesTo` once per repository name and remembers the answer, so a repository no policy
 * matches pays nothing on its pulls; it must therefore depend on the name only.
 */
export interface PullCheck {
  appliesTo(repo: string): boolean;
  /**
   * Resolves a refusal, or undefined to serve the manifest. May set response headers (served or
   * refused) in `headers`. Throwing fails the request as a server error: a check that cannot decide
   * must refuse with a reason instead, when refusing is what its policy asks for.
   */
  check(repo: string, manifest: StoredManifest, headers: Record<string, string>): Promise<PullRefusal | undefined>;
}

/** What the manifest handler calls for every GET and HEAD of a manifest. */
export interface PullGate {
  /** Whether any check applies to `repo` (cached per name): when false, `admit` need not be called. */
  appliesTo(repo: string): boolean;
  /**
   * Runs the checks that apply to `repo` and resolves the headers to add to the response, or
   * rejects with RegistryError DENIED (403) carrying the first refusal's message and those headers.
   */
  admit(repo: string, manifest: StoredManifest): Promise<Record<string, string>>;
}

/** Repository names whose applicable checks are remembered, then forgotten all at once. */
const REMEMBERED_NAMES = 10_000;

export function createPullGate(checks: readonly PullCheck[]): PullGate {
  const applicable = new Map<string, readonly PullCheck[]>();
  const checksFor = (repo: string): readonly PullCheck[] => {
    let found = applicable.get(repo);
    if (found === undefined) {
      found = checks.filter((c) => c.appliesTo(repo));
      if (applicable.size >= REMEMBERED_NAMES) applicable.clear();
      applicable.set(repo, found);
    }
    return found;
  };
  return {
    appliesTo: (repo) => checks.length > 0 && checksFor(repo).length > 0,
    async admit(repo, manifest) {
      const headers: Record<string, string> = {};
      const applying = checksFor(repo);
      // One check is the common case: awaited directly, without Promise.all's extra promises per pull.
      const refusal = applying.length === 1
        ? await applying[0]!.check(repo, manifest, headers)
        : (await Promise.all(applying.map((c) => c.check(repo, manifest, headers)))).find((r) => r !== undefined);
      if (refusal) throw new RegistryError("DENIED", refusal.message, { policy: refusal.policy, digest: manifest.digest }, { headers });
      return headers;
    },
  };
}
