import type { Digest } from "../oci/digest.js";
import { manifestKind } from "../oci/media-types.js";
import { parseManifest } from "../oci/manifest.js";
import type { Config } from "../config/schema.js";
import type { Logger } from "../logger.js";
import type { Registry } from "../registry/registry.js";
import { isGatedManifest } from "./gated.js";
import { createPullGate, type PullCheck, type PullGate } from "./pull-gate.js";
import { createSboms, type SbomReport, type Sboms } from "./sbom/sboms.js";
import type { SecretReport, SecretScanner } from "./secrets/secrets.js";
import { loadSignaturePolicies } from "./signatures/policy.js";
import { createSignatureStatus, type SignatureStatus, type SignatureStatusReport } from "./signatures/status.js";
import { loadSecretRules } from "./secrets/rules.js";
import { policyFor } from "./vulns/pull-policy.js";
import { createVulnerabilities, type Vulnerabilities, type VulnerabilityReport } from "./vulns/vulns.js";

/** What Berth knows of one image manifest's supply chain (plain JSON: the API and `berth scan --json`). */
export interface ImageSupplyReport {
  sbom: SbomReport;
  vulnerabilities: VulnerabilityReport;
}

/** The supply-chain report of a manifest: `GET /api/v1/scan/<name>:<tag>` and `berth scan`. */
export interface SupplyReport {
  repository: string;
  digest: Digest;
  mediaType: string;
  signatures: SignatureStatusReport;
  secrets: SecretReport | { status: "not-scanned"; findings: []; reason: string };
  /** An image manifest's SBOM and vulnerabilities. */
  image?: ImageSupplyReport;
  /** An index: each platform manifest it lists that the repository holds, with its SBOM and vulnerabilities. */
  platforms?: ({ digest: Digest; platform: string } & ImageSupplyReport)[];
}

/**
 * The four supply-chain checks of one registry (docs/supply-chain.md): signature policies, SBOMs
 * generated in the background, vulnerabilities matched offline against the imported OSV database,
 * and secret scanning (built by the composition root, since the registry asks it before storing a
 * push). `berth serve` and `berth scan` build it the same way; only the server generates SBOMs on push.
 */
export interface SupplyChain {
  readonly signatures: SignatureStatus;
  readonly sboms: Sboms;
  readonly vulnerabilities: Vulnerabilities;
  readonly secrets?: SecretScanner;
  /** The pull gate, when a signature or vulnerability policy may refuse pulls somewhere. */
  readonly pullGate?: PullGate;
  /**
   * The report of manifest `digest` of `repo` (MANIFEST_UNKNOWN when absent). With `generate`, a
   * missing SBOM is generated first (reading the layers), as `berth scan` asks.
   */
  report(repo: string, digest: Digest, options?: { generate?: boolean }): Promise<SupplyReport>;
  /** Resolves once background work started so far (SBOMs, scans) is done. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface SupplyChainDeps {
  registry: Registry;
  config: Pick<Config, "signatures" | "sboms" | "vulnerabilities">;
  logger: Logger;
  secrets?: SecretScanner;
  /** Generate SBOMs for pushes heard on the registry's events (the server); off for commands. */
  background: boolean;
  tool: { name: string; version: string };
}

/** The vulnerability half of the pull gate: image manifests only (an index is judged by the platform pulled next). */
function vulnerabilityCheck(vulnerabilities: Vulnerabilities, config: SupplyChainDeps["config"]): PullCheck {
  const { policies } = config.vulnerabilities;
  return {
    appliesTo: (repo) => (policyFor(policies, repo)?.refuseAt ?? "none") !== "none",
    async check(repo, manifest) {
      if (manifestKind(manifest.mediaType) === "index" || !isGatedManifest(manifest.mediaType, manifest.content)) return undefined;
      return vulnerabilities.checkPull(repo, manifest.digest);
    },
  };
}

function platformOf(platform: Record<string, unknown> | undefined): string {
  if (!platform) return "unknown";
  return [platform.os, platform.architecture, platform.variant].filter((p) => typeof p === "string" && p !== "").join("/");
}

/**
 * Reads the files the supply-chain configuration names (signature keys and certificates, the secret
 * rules file) and throws a ConfigError naming the first bad one: `berth serve` calls it before it
 * opens (or creates) anything, so a typo in a key path leaves no empty registry behind.
 */
export async function checkSupplyFiles(config: Pick<Config, "signatures" | "secrets">): Promise<void> {
  await loadSignaturePolicies(config.signatures);
  loadSecretRules(config.secrets.rulesFile);
}

/** Loads the signature trust material (a bad key file is a ConfigError naming it) and builds the checks. */
export async function createSupplyChain(deps: SupplyChainDeps): Promise<SupplyChain> {
  const { registry, config, logger, secrets } = deps;
  const signatures = await createSignatureStatus({ registry, config: config.signatures, logger });
  const sboms = createSboms({ registry, config: deps.background ? config.sboms : { ...config.sboms, enabled: false }, logger, tool: deps.tool });
  const vulnerabilities = createVulnerabilities({ store: registry.stores.metadataStore, sboms, config, logger });
  const checks: PullCheck[] = [];
  if (config.signatures.policies.some((p) => p.mode !== "off")) checks.push(signatures.pullCheck);
  if (config.vulnerabilities.policies.some((p) => p.refuseAt !== "none")) checks.push(vulnerabilityCheck(vulnerabilities, config));

  async function imageReport(repo: string, digest: Digest, generate: boolean): Promise<ImageSupplyReport> {
    const sbom = generate ? await sboms.ensure(repo, digest) : await sboms.report(repo, digest);
    return { sbom, vulnerabilities: await vulnerabilities.report(repo, digest) };
  }

  return {
    signatures,
    sboms,
    vulnerabilities,
    ...(secrets ? { secrets } : {}),
    ...(checks.length > 0 ? { pullGate: createPullGate(checks) } : {}),
    async report(repo, digest, options = {}) {
      const generate = options.generate ?? false;
      const manifest = await registry.manifests.get(repo, { kind: "digest", digest });
      const report: SupplyReport = {
        repository: repo,
        digest,
        mediaType: manifest.mediaType,
        signatures: await signatures.status(repo, digest),
        secrets: secrets ? await secrets.report(repo, digest) : { status: "not-scanned", findings: [], reason: "no secrets policy applies (secrets.policies)" },
      };
      if (manifestKind(manifest.mediaType) === "index") {
        const parsed = parseManifest(manifest.content, manifest.mediaType);
        report.platforms = [];
        for (const child of parsed.manifests) {
          if (!(await registry.stores.metadataStore.getManifest(repo, child.digest))) continue;
          report.platforms.push({ digest: child.digest, platform: platformOf(child.platform), ...(await imageReport(repo, child.digest, generate)) });
        }
      } else if (isGatedManifest(manifest.mediaType, manifest.content)) {
        report.image = await imageReport(repo, digest, generate);
      }
      return report;
    },
    async settled() {
      await Promise.all([sboms.settled(), secrets?.settled()]);
    },
    async close() {
      signatures.close();
      await sboms.close();
    },
  };
}
