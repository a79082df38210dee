import type { Digest } from "../../oci/digest.js";
import { manifestKind } from "../../oci/media-types.js";
import type { Logger } from "../../logger.js";
import type { Registry } from "../../registry/registry.js";
import type { StoredManifest } from "../../storage/metadata-store.js";
import { isGatedManifest } from "../gated.js";
import type { PullCheck } from "../pull-gate.js";
import { createPolicyResolver, loadSignaturePolicies, type SignatureMode, type SignaturePolicy, type SignaturesConfig } from "./policy.js";
import { isSignatureArtifact, verifySignatures, type SignatureArtifact, type SignatureCheck, type VerificationResult } from "./verify.js";

/** `verified`: a valid signature from a trusted key; `unverified`: signatures, none valid; `unsigned`: none at all. */
export type SignatureState = "verified" | "unverified" | "unsigned";

/** The signature status of one manifest, as the API and `berth scan` show it (plain JSON). */
export interface SignatureStatusReport {
  /** The policy that applies to the repository, or null when none matches. */
  policy: string | null;
  mode: SignatureMode;
  /** Whether pulls of this manifest are subject to the policy (images and indexes, not artifacts). */
  gated: boolean;
  verified: boolean;
  state: SignatureState;
  /** When the manifest is verified through a signed index that lists it: that index. */
  verifiedBy?: Digest;
  /** Every signature found for the manifest (and, when it is not signed itself, for the indexes listing it). */
  checks: SignatureCheck[];
}

/** Signature policies over one registry: status for the API, and the pull check for the gate. */
export interface SignatureStatus {
  status(repo: string, digest: Digest): Promise<SignatureStatusReport>;
  /** The signatures half of the pull gate (`Berth-Signature` header, refusals under enforce). */
  readonly pullCheck: PullCheck;
  /** Stops listening to the registry's events. */
  close(): void;
}

export interface SignatureStatusOptions {
  registry: Registry;
  config: SignaturesConfig;
  logger: Logger;
  /** Verification results kept in memory (least recently used go first); 10,000 by default. */
  cacheEntries?: number;
  /** How long a result is reused at most, so time-bound verdicts (certificate expiry) are redone; 10 minutes by default. */
  cacheMs?: number;
  /**
   * How long a pull of a manifest found verified skips even the signature look-ups; 10 s by default. A signature
   * deleted on this node ends it at once (registry events), one deleted through another node within this time.
   */
  verifiedReuseMs?: number;
}

/** Signature payloads, bundles and envelopes are small; a larger blob is not read. */
const MAX_SIGNATURE_BLOB = 1 << 20;

/** Referrers worth reading for signatures, by artifact type: SBOMs and other attachments are never loaded. */
function maySign(artifactType: string | undefined): boolean {
  return artifactType === undefined || /notary|sigstore|cosign/.test(artifactType);
}

function cosignTag(digest: Digest): string {
  return digest.replace(":", "-") + ".sig";
}

function stateOf(result: VerificationResult): SignatureState {
  return result.verified ? "verified" : result.checks.length > 0 ? "unverified" : "unsigned";
}

/**
 * Loads the trust material of `config.policies` (a missing or bad file is a ConfigError naming it
 * and its policy) and returns the status and pull check. A manifest's signatures are the manifest
 * tagged `sha256-<hex>.sig` and its signature referrers; the result is cached per (digest, signature
 * manifest digests, trust fingerprint), so a pull pays two metadata look-ups when nothing changed, and
 * a new signature, or other keys after a restart, is verified afresh on every node.
 */
export async function createSignatureStatus(options: SignatureStatusOptions): Promise<SignatureStatus> {
  const { registry, logger } = options;
  const metadata = registry.stores.metadataStore;
  const policies = createPolicyResolver(await loadSignaturePolicies(options.config));
  const cache = createResultCache(options.cacheEntries ?? 10_000, options.cacheMs ?? 10 * 60_000);
  const reuseMs = options.verifiedReuseMs ?? 10_000;
  const maxEntries = options.cacheEntries ?? 10_000;
  /** `repo\0digest` → until when a verified pull is served without look-ups. */
  const recentlyVerified = new Map<string, number>();
  /** Manifest digest → gated or not (content is immutable under its digest). */
  const gatedness = new Map<string, boolean>();
  const isGated = (manifest: StoredManifest) => {
    let gated = gatedness.get(manifest.digest);
    if (gated === undefined) {
      gated = isGatedManifest(manifest.mediaType, manifest.content);
      if (gatedness.size >= maxEntries) gatedness.clear();
      gatedness.set(manifest.digest, gated);
    }
    return gated;
  };
  const unsubscribe = registry.events.subscribe((events) => {
    if (events.some((e) => e.type === "manifest.deleted" || e.type === "tag.moved" || e.type === "tag.deleted" || e.type === "repository.deleted")) {
      recentlyVerified.clear();
    }
  });

  const fetchBlob = (repo: string) => async (digest: Digest, wanted: number): Promise<Buffer> => {
    const maxBytes = Math.min(wanted, MAX_SIGNATURE_BLOB);
    const body = await registry.blobs.open(repo, digest);
    if (body.size > maxBytes) {
      body.stream.destroy();
      throw new Error(`blob ${digest} is ${body.size} bytes, more than the ${maxBytes} allowed`);
    }
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of body.stream as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > maxBytes) {
        body.stream.destroy();
        throw new Error(`blob ${digest} is more than the ${maxBytes} bytes allowed`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  };

  /** The signatures of one manifest, verified under `policy` (cached). */
  const verify = async (repo: string, subject: StoredManifest, policy: SignaturePolicy): Promise<VerificationResult> => {
    const [tagged, referrers] = await Promise.all([
      metadata.getManifestByTag(repo, cosignTag(subject.digest)),
      metadata.listReferrers(repo, subject.digest),
    ]);
    const candidates = referrers.filter((r) => maySign(r.artifactType));
    const digests = [...(tagged ? [tagged.digest] : []), ...candidates.map((r) => r.digest)].sort();
    const key = `${subject.digest}\0${digests.join(",")}\0${policy.fingerprint}`;
    return cache.get(key, async () => {
      const loaded = await Promise.all(candidates.map((r) => metadata.getManifest(repo, r.digest)));
      const artifacts: SignatureArtifact[] = [
        ...(tagged ? [{ digest: tagged.digest, mediaType: tagged.mediaType, content: tagged.content, via: "tag" as const }] : []),
        ...loaded.flatMap((m) => (m ? [{ digest: m.digest, mediaType: m.mediaType, content: m.content, via: "referrer" as const }] : [])),
      ].filter((a) => isSignatureArtifact(a.mediaType, a.content));
      return verifySignatures(subject.digest, artifacts, policy.trust, fetchBlob(repo), new Date(), { subjectContent: subject.content });
    });
  };

  /** The manifest's own signatures; for a platform manifest not signed itself, also those of the indexes listing it. */
  const evaluate = async (repo: string, manifest: StoredManifest, policy: SignaturePolicy) => {
    const own = await verify(repo, manifest, policy);
    if (own.verified || manifestKind(manifest.mediaType) !== "image") return { result: own };
    const parents = await metadata.listParentManifests(repo, manifest.digest);
    const checks = [...own.checks];
    for (const digest of parents) {
      const index = await metadata.getManifest(repo, digest);
      if (!index) continue;
      const result = await verify(repo, index, policy);
      if (result.verified) return { result: { verified: true, checks: [...checks, ...result.checks] }, verifiedBy: digest };
      checks.push(...result.checks);
    }
    return { result: { verified: false, checks } };
  };

  const refusalMessage = (policy: SignaturePolicy, digest: Digest, checks: readonly SignatureCheck[]) => {
    const why = checks.length === 0
      ? "no signature found"
      : checks.map((c) => `${c.format} signature ${c.artifact} refused: ${c.reason ?? "not valid"}`).join("; ");
    return `${policy.label} requires a valid signature from a trusted key (${policy.trustedFiles}) for ${digest}: ${why}`;
  };

  return {
    async status(repo, digest) {
      const policy = policies.resolve(repo);
      const manifest = await metadata.getManifest(repo, digest);
      const gated = manifest !== undefined && isGatedManifest(manifest.mediaType, manifest.content);
      if (!policy || policy.mode === "off" || !manifest) {
        return { policy: policy?.name ?? null, mode: policy?.mode ?? "off", gated, verified: false, state: "unsigned", checks: [] };
      }
      const { result, verifiedBy } = await evaluate(repo, manifest, policy);
      return {
        policy: policy.name,
        mode: policy.mode,
        gated,
        verified: result.verified,
        state: stateOf(result),
        ...(verifiedBy ? { verifiedBy } : {}),
        checks: result.checks,
      };
    },
    pullCheck: {
      appliesTo: (repo) => policies.active(repo) !== undefined,
      async check(repo, manifest, headers) {
        const policy = policies.active(repo);
        if (!policy || !isGated(manifest)) return undefined;
        const key = `${repo}\0${manifest.digest}`;
        const now = Date.now();
        if ((recentlyVerified.get(key) ?? 0) > now) {
          headers["Berth-Signature"] = "verified";
          return undefined;
        }
        const { result } = await evaluate(repo, manifest, policy);
        headers["Berth-Signature"] = stateOf(result);
        if (result.verified) {
          if (reuseMs > 0) {
            if (recentlyVerified.size >= maxEntries) recentlyVerified.clear();
            recentlyVerified.set(key, now + reuseMs);
          }
          return undefined;
        }
        const message = refusalMessage(policy, manifest.digest, result.checks);
        if (policy.mode === "report") {
          logger.debug("pulled without a valid signature (report only)", { repository: repo, digest: manifest.digest, policy: policy.name, reason: message });
          return undefined;
        }
        return { policy: policy.name, message };
      },
    },
    close: unsubscribe,
  };
}

interface ResultCache {
  get(key: string, compute: () => Promise<VerificationResult>): Promise<VerificationResult>;
}

/** A bounded LRU of verification promises (so concurrent pulls of one manifest verify once); failures are not kept. */
function createResultCache(maxEntries: number, maxAgeMs: number): ResultCache {
  const entries = new Map<string, { at: number; result: Promise<VerificationResult> }>();
  return {
    get(key, compute) {
      const now = Date.now();
      const hit = entries.get(key);
      entries.delete(key);
      if (hit && now - hit.at < maxAgeMs) {
        entries.set(key, hit);
        return hit.result;
      }
      const result = compute();
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, { at: now, result });
      result.catch(() => {
        if (entries.get(key)?.result === result) entries.delete(key);
      });
      return result;
    },
  };
}
