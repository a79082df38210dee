import type { Config } from "../../config/schema.js";
import type { Digest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import { globMatch } from "../../oci/glob.js";
import { parseManifest, type ParsedManifest } from "../../oci/manifest.js";
import { MediaType } from "../../oci/media-types.js";
import type { Logger } from "../../logger.js";
import type { DomainEvent, Origin } from "../../registry/events.js";
import type { PushAdmission } from "../../registry/manifests.js";
import type { Registry } from "../../registry/registry.js";
import { createBlobScans, type BlobRole, type BlobScan, type BlobScans } from "./blob-scans.js";
import type { SecretFinding } from "./match.js";
import { loadSecretRules, type SecretRuleSet } from "./rules.js";

export type SecretsConfig = Config["secrets"];
export type SecretPolicy = SecretsConfig["policies"][number];

/** What `report` says of an image (or of every platform of an index). */
export interface SecretReport {
  /** `pending`: a scan is due or running; `not-scanned`: no policy asks for scans here and none was made. */
  status: "clean" | "found" | "pending" | "not-scanned";
  /** Where secrets are, never what they are (`hint`: first four characters and length). */
  findings: (SecretFinding & { manifest?: string })[];
  /** The policy that applies to the repository, if any. */
  policy?: { name: string; mode: SecretPolicy["mode"] };
  /** Layers that could not be read (zstd, corrupt): not scanned, counted as clean. */
  unreadable?: { layer: string; reason: string }[];
  /** The fingerprint of the rules the results were computed with. */
  rules: string;
}

/**
 * Secret scanning of pushed images. Each layer and image config is scanned once per rule set
 * (results shared through the SupplyStore), in the background as soon as its blob is committed to
 * a repository whose policy is not `off`, and at the latest when a manifest naming it is pushed:
 * under `block` the push waits for the scans and is refused when they found anything; under
 * `warn` it is stored at once and a `secret.found` event follows when the scans are done.
 */
export interface SecretScanner {
  /** The registry's push admission (RegistryDeps.admitPush): throws DENIED under a `block` policy with findings. */
  readonly admitPush: PushAdmission;
  /** Secret status of the manifest `digest` of `repo`; rejects with MANIFEST_UNKNOWN when absent. */
  report(repo: string, digest: Digest): Promise<SecretReport>;
  /** The policy for `repo` (the first whose globs match), undefined when none does. */
  policyFor(repo: string): SecretPolicy | undefined;
  readonly rules: SecretRuleSet;
  /** Layer and config scans this process ran (cached answers excluded). */
  readonly scansPerformed: number;
  /** Resolves once background work started so far is done. */
  settled(): Promise<void>;
  /** Stops listening to the registry's events and waits for scans in progress. */
  close(): Promise<void>;
}

export interface SecretScannerDeps {
  registry: Registry;
  config: SecretsConfig;
  logger: Logger;
  /** Scans at a time (default 2). */
  concurrency?: number;
}

/** Whether any policy asks for scanning (the scanner is built only then). */
export function secretScanningWanted(config: SecretsConfig): boolean {
  return config.policies.some((p) => p.mode !== "off");
}

const IMAGE_CONFIGS = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);
/** Findings an event or a refusal carries at most. */
const LISTED = 20;

/** The config and layers of an image manifest, or undefined for anything else (indexes, artifacts). */
function imageBlobs(manifest: ParsedManifest): { role: BlobRole; digest: Digest }[] | undefined {
  if (manifest.kind !== "image") return undefined;
  const [config, ...layers] = manifest.blobs;
  if (!config || !IMAGE_CONFIGS.has(config.mediaType)) return undefined;
  const readable = layers.filter((l) => !l.urls?.length);
  return [{ role: "config", digest: config.digest }, ...readable.map((l) => ({ role: "layer" as const, digest: l.digest }))];
}

const short = (digest: string) => {
  const [alg, hex = ""] = digest.split(":");
  return `${alg}:${hex.slice(0, 12)}…`;
};

function where(f: SecretFinding): string {
  return f.file !== undefined ? `layer ${short(f.layer ?? "")} file ${f.file}` : `image config ${short(f.layer ?? "")} field ${f.field}`;
}

/** A finding as events and refusals carry it: location and rule only. */
function located(f: SecretFinding) {
  return { rule: f.rule, ...(f.file !== undefined ? { file: f.file } : {}), ...(f.field !== undefined ? { field: f.field } : {}), ...(f.line !== undefined ? { line: f.line } : {}), ...(f.layer !== undefined ? { blob: f.layer } : {}) };
}

export function blockMessage(policy: SecretPolicy, findings: readonly SecretFinding[]): string {
  const first = findings[0]!;
  const rest = findings.length > 1 ? ` (and ${findings.length - 1} more finding${findings.length === 2 ? "" : "s"})` : "";
  return `${policy.name} (${policy.repositories.join(", ")}): ${where(first)} matches rule ${first.rule}${rest}; remove the secret and push again`;
}

export function createSecretScanner({ registry, config, logger, concurrency = 2 }: SecretScannerDeps): SecretScanner {
  const rules = loadSecretRules(config.rulesFile);
  const scans: BlobScans = createBlobScans({
    blobStore: registry.stores.blobStore,
    store: registry.stores.metadataStore,
    rules,
    maxFileSize: config.maxFileSize,
    concurrency,
    logger,
  });
  const background = new Set<Promise<unknown>>();
  const policyFor = (repo: string) => config.policies.find((p) => p.repositories.some((g) => globMatch(g, repo)));
  const active = (repo: string) => {
    const p = policyFor(repo);
    return p && p.mode !== "off" ? p : undefined;
  };
  const track = (what: string, work: Promise<unknown>) => {
    const p = work.catch((err: unknown) => logger.error(what, { error: err instanceof Error ? err.message : String(err) })).finally(() => background.delete(p));
    background.add(p);
  };

  /** Every finding of an image's blobs, each marked with its blob; scans what was never scanned. */
  async function findingsOf(blobs: readonly { role: BlobRole; digest: Digest }[]): Promise<{ findings: SecretFinding[]; unreadable: { layer: string; reason: string }[] }> {
    const results = await Promise.all(blobs.map(async (b) => [b, await scans.scan(b.role, b.digest)] as const));
    return collect(results);
  }

  function collect(results: readonly (readonly [{ role: BlobRole; digest: Digest }, BlobScan | undefined])[]) {
    const findings: SecretFinding[] = [];
    const unreadable: { layer: string; reason: string }[] = [];
    for (const [b, r] of results) {
      if (r?.unreadable) unreadable.push({ layer: b.digest, reason: r.unreadable });
      for (const f of r?.findings ?? []) findings.push({ ...f, layer: b.digest });
    }
    return { findings, unreadable };
  }

  const admitPush: PushAdmission = async ({ repository, manifest }) => {
    const policy = active(repository);
    if (policy?.mode !== "block") return;
    const blobs = imageBlobs(manifest);
    if (!blobs) return;
    const { findings } = await findingsOf(blobs);
    if (findings.length === 0) return;
    throw new RegistryError("DENIED", blockMessage(policy, findings), { policy: policy.name, findings: findings.slice(0, LISTED).map(located) });
  };

  /** Under `warn`: once the pushed image's scans are done, its findings become a `secret.found` event. */
  async function warnAbout(event: DomainEvent, policy: SecretPolicy): Promise<void> {
    const repository = event.repository!;
    const digest = event.target!.digest!;
    const stored = await registry.manifests.get(repository, { kind: "digest", digest });
    const blobs = imageBlobs(parseManifest(stored.content, stored.mediaType));
    if (!blobs) return;
    const { findings } = await findingsOf(blobs);
    if (findings.length === 0) return;
    const origin: Origin = { ...(event.actor !== undefined ? { actor: event.actor } : {}), ...(event.request ? { request: () => event.request! } : {}) };
    const found = registry.events.event("secret.found", {
      repository,
      target: { digest, mediaType: stored.mediaType },
      detail: { policy: policy.name, mode: policy.mode, count: findings.length, findings: findings.slice(0, LISTED).map(located) },
    }, origin);
    await registry.events.emit([found]);
  }

  const unsubscribe = registry.events.subscribe((batch) => {
    for (const e of batch) {
      const repo = e.repository;
      const digest = e.target?.digest;
      if (!repo || !digest || e.result === "refused") continue;
      const policy = active(repo);
      if (!policy) continue;
      if (e.type === "blob.pushed") track("secret scan of a pushed blob failed", scans.scan("layer", digest));
      else if (e.type === "manifest.pushed" && policy.mode === "warn") track("secret scan of a pushed image failed", warnAbout(e, policy));
    }
  });

  async function imageReport(repo: string, digest: Digest, manifest: ParsedManifest, policy: SecretPolicy | undefined): Promise<Omit<SecretReport, "rules" | "policy">> {
    const blobs = imageBlobs(manifest);
    if (!blobs) return { status: "not-scanned", findings: [] };
    const stored = await scans.stored(blobs);
    const missing = blobs.filter((b) => !stored.has(`${b.role}:${b.digest}`));
    if (missing.length > 0) {
      if (!policy && !missing.some((b) => scans.running(b.role, b.digest))) return { status: "not-scanned", findings: [] };
      // Pushed before a policy covered it (or a scan was lost with its node): scanned now, reported when done.
      if (policy) track(`secret scan of ${repo}@${digest} failed`, findingsOf(missing));
      return { status: "pending", findings: [] };
    }
    const { findings, unreadable } = collect(blobs.map((b) => [b, stored.get(`${b.role}:${b.digest}`)] as const));
    return { status: findings.length > 0 ? "found" : "clean", findings, ...(unreadable.length > 0 ? { unreadable } : {}) };
  }

  return {
    admitPush,
    policyFor,
    rules,
    get scansPerformed() {
      return scans.performed;
    },
    async report(repo, digest) {
      const policy = active(repo);
      const stored = await registry.manifests.get(repo, { kind: "digest", digest });
      const manifest = parseManifest(stored.content, stored.mediaType);
      const head = { rules: rules.fingerprint, ...(policy ? { policy: { name: policy.name, mode: policy.mode } } : {}) };
      if (manifest.kind === "image") return { ...head, ...(await imageReport(repo, digest, manifest, policy)) };
      const children: Omit<SecretReport, "rules" | "policy">[] = [];
      const findings: SecretReport["findings"] = [];
      for (const child of manifest.manifests) {
        const c = await registry.manifests.get(repo, { kind: "digest", digest: child.digest }).catch(() => undefined);
        if (!c) continue;
        const r = await imageReport(repo, child.digest, parseManifest(c.content, c.mediaType), policy);
        children.push(r);
        findings.push(...r.findings.map((f) => ({ ...f, manifest: child.digest })));
      }
      const has = (s: SecretReport["status"]) => children.some((c) => c.status === s);
      const status = has("found") ? "found" : has("pending") ? "pending" : has("clean") ? "clean" : "not-scanned";
      const unreadable = children.flatMap((c) => c.unreadable ?? []);
      return { ...head, status, findings, ...(unreadable.length > 0 ? { unreadable } : {}) };
    },
    async settled() {
      while (background.size > 0) await Promise.allSettled([...background]);
      await scans.settled();
    },
    async close() {
      unsubscribe();
      await this.settled();
    },
  };
}
