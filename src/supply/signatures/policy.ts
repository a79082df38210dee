import { ConfigError } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { compileGlob } from "../../oci/glob.js";
import { loadTrustMaterial, trustFingerprint, type TrustMaterial } from "./verify.js";

export type SignaturesConfig = Config["signatures"];
export type SignatureMode = "off" | "report" | "enforce";

/** One `signatures.policies` entry with its trust material loaded. */
export interface SignaturePolicy {
  /** `signatures.policies[i]` unless the operator named it. */
  name: string;
  repositories: readonly string[];
  mode: SignatureMode;
  trust: TrustMaterial;
  /** trustFingerprint(trust): verification results are cached under it, so new keys mean new results. */
  fingerprint: string;
  /** `signatures.policies[0] (prod/*)`, how messages name the policy. */
  label: string;
  /** The files it trusts, for messages: `/etc/berth/keys/release.pub, /etc/berth/certs/ca.pem`. */
  trustedFiles: string;
}

/**
 * Loads every policy's keys, certificates and trusted root. A missing or unusable file refuses to
 * start: ConfigError naming the policy and the file. Policies that are `off` load nothing.
 */
export async function loadSignaturePolicies(config: SignaturesConfig): Promise<SignaturePolicy[]> {
  return Promise.all(
    config.policies.map(async (p): Promise<SignaturePolicy> => {
      const label = `${p.name} (${p.repositories.join(", ")})`;
      let trust: TrustMaterial;
      try {
        trust = p.mode === "off"
          ? { cosignKeys: [], notationCertificates: [] }
          : await loadTrustMaterial({
            cosignKeys: p.cosignKeys,
            notationCertificates: p.notationCertificates,
            ...(p.sigstoreTrustedRoot !== undefined ? { sigstoreTrustedRoot: p.sigstoreTrustedRoot } : {}),
            identities: p.identities,
          });
      } catch (err) {
        throw new ConfigError(`${label}: ${(err as Error).message.replace(/^signatures: /, "")}`);
      }
      const files = [...p.cosignKeys, ...p.notationCertificates, ...(p.sigstoreTrustedRoot !== undefined ? [p.sigstoreTrustedRoot] : [])];
      return { name: p.name, repositories: p.repositories, mode: p.mode, trust, fingerprint: trustFingerprint(trust), label, trustedFiles: files.join(", ") };
    }),
  );
}

/** Which policy applies to a repository: the first whose globs match, cached per name. */
export interface PolicyResolver {
  /** The first matching policy (an `off` one included: it wins like any other), or undefined. */
  resolve(repo: string): SignaturePolicy | undefined;
  /** The matching policy when its mode is report or enforce, else undefined. */
  active(repo: string): SignaturePolicy | undefined;
}

/** Repository names resolved are remembered up to this many, then forgotten all at once. */
const RESOLVED_NAMES = 10_000;

export function createPolicyResolver(policies: readonly SignaturePolicy[]): PolicyResolver {
  const compiled = policies.map((policy) => ({ policy, globs: policy.repositories.map(compileGlob) }));
  const resolved = new Map<string, SignaturePolicy | null>();
  const resolve = (repo: string): SignaturePolicy | undefined => {
    let found = resolved.get(repo);
    if (found === undefined) {
      found = compiled.find((c) => c.globs.some((g) => g.test(repo)))?.policy ?? null;
      if (resolved.size >= RESOLVED_NAMES) resolved.clear();
      resolved.set(repo, found);
    }
    return found ?? undefined;
  };
  return {
    resolve,
    active(repo) {
      const policy = resolve(repo);
      return policy && policy.mode !== "off" ? policy : undefined;
    },
  };
}
