import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { digestOf, EMPTY_JSON, EMPTY_JSON_DIGEST, type Digest } from "../../oci/digest.js";
import { globMatch } from "../../oci/glob.js";
import { MediaType } from "../../oci/media-types.js";
import type { Logger } from "../../logger.js";
import type { DomainEvent, Origin } from "../../registry/events.js";
import type { Registry } from "../../registry/registry.js";
import type { Package } from "../packages.js";
import { CYCLONEDX_JSON, packagesFromCycloneDx, toCycloneDx } from "./cyclonedx.js";
import type { OsInfo } from "./os-release.js";
import { scanImage } from "./scan-image.js";
import { createWorkQueue } from "./work-queue.js";

/** The SupplyStore kind of the SBOM index: image manifest digest → {@link SbomRecord}. */
export const SBOM_KIND = "sbom";
/** Who pushes SBOM referrers (the audit log's and webhooks' actor). */
export const SBOM_ORIGIN: Origin = { actor: "berth:sbom" };
export const GENERATOR_ANNOTATION = "dev.berth.sbom.generator";

/**
 * What every node knows of an image's SBOM, whatever repository it was generated in: the CycloneDX
 * blob, and what the referrer manifest was made of, so another repository holding the same image
 * gets the identical referrer (same digest) without its layers being read again.
 */
export interface SbomRecord {
  blob: Digest;
  size: number;
  /** The referrer manifest's digest (the same in every repository). */
  manifest: Digest;
  created: string;
  generator: string;
  packages: number;
  ecosystems: Record<string, number>;
  os?: string;
}

/** An image's SBOM as `berth scan` and the API show it. */
export interface SbomReport {
  status: "none" | "pending" | "ready" | "failed";
  /** The CycloneDX referrer manifest, when ready. */
  referrer?: Digest;
  /** Packages listed, in all and per ecosystem. */
  packages?: number;
  ecosystems?: Record<string, number>;
  os?: string;
  /** Why the last generation failed. */
  error?: string;
}

/** SBOM generation for pushed images (docs/supply-chain.md), and reading the SBOMs back. */
export interface Sboms {
  /** The packages of an image as its stored SBOM lists them (never reading layers); undefined when it has none yet. */
  packagesOf(repo: string, digest: Digest): Promise<{ packages: Package[]; os?: OsInfo } | undefined>;
  /** Generates the SBOM now unless it exists (whatever `sboms.repositories` says: an explicit request), then reports it. */
  ensure(repo: string, digest: Digest): Promise<SbomReport>;
  report(repo: string, digest: Digest): Promise<SbomReport>;
  /** Resolves once no generation is queued or running. */
  settled(): Promise<void>;
  /** Stops listening for pushes, forgets what is queued and waits for the generations running. */
  close(): Promise<void>;
}

export interface SbomsDeps {
  registry: Registry;
  config: { enabled: boolean; repositories: readonly string[] };
  logger: Logger;
  /** Generations at once (default 1): each reads whole layers, so more mostly competes with pushes for disk and CPU. */
  concurrency?: number;
  /** The generator named in the SBOM and the referrer's annotation. */
  tool?: { name: string; version: string };
  clock?: () => Date;
}

const IMAGE_MANIFESTS = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const IMAGE_CONFIGS = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);
const MAX_FAILURES = 1000;

/** Whether a stored manifest is a container image (an image config and tar layers), not an artifact. */
function isImage(content: Buffer): boolean {
  const m = JSON.parse(content.toString("utf8")) as { config?: { mediaType?: string }; layers?: { mediaType?: string }[]; subject?: unknown };
  return !m.subject && IMAGE_CONFIGS.has(m.config?.mediaType ?? "") && (m.layers ?? []).length > 0 && (m.layers ?? []).every((l) => /tar|rootfs/.test(l.mediaType ?? ""));
}

export function createSboms({ registry, config, logger, concurrency = 1, tool = { name: "berth", version: "unknown" }, clock = () => new Date() }: SbomsDeps): Sboms {
  const supply = registry.stores.metadataStore;
  const failures = new Map<string, string>();
  const running = new Map<Digest, Promise<void>>();
  const keyOf = (repo: string, digest: Digest) => `${repo}@${digest}`;
  const splitKey = (key: string) => {
    const at = key.lastIndexOf("@");
    return [key.slice(0, at), key.slice(at + 1) as Digest] as const;
  };

  async function readRecord(digest: Digest): Promise<SbomRecord | undefined> {
    const found = await supply.getSupplyRecord(SBOM_KIND, digest);
    return found ? (JSON.parse(found.value) as SbomRecord) : undefined;
  }

  async function referrerOf(repo: string, digest: Digest): Promise<Digest | undefined> {
    const found = await supply.listReferrers(repo, digest, CYCLONEDX_JSON);
    return found[0]?.digest;
  }

  function referrerManifest(record: Pick<SbomRecord, "blob" | "size" | "created" | "generator">, subject: { mediaType: string; digest: Digest; size: number }): Buffer {
    return Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: CYCLONEDX_JSON,
      config: { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON.length },
      layers: [{ mediaType: CYCLONEDX_JSON, digest: record.blob, size: record.size }],
      subject,
      annotations: { "org.opencontainers.image.created": record.created, [GENERATOR_ANNOTATION]: record.generator },
    }));
  }

  async function pushReferrer(repo: string, record: SbomRecord, subject: { mediaType: string; digest: Digest; size: number }): Promise<void> {
    const content = referrerManifest(record, subject);
    await registry.manifests.put(repo, { reference: { kind: "digest", digest: digestOf(content) }, content, contentType: MediaType.OciManifest, origin: SBOM_ORIGIN });
  }

  /** Links the SBOM another repository already has; false when its blob is gone (collected) or the record is for other bytes. */
  async function reuse(repo: string, record: SbomRecord, subject: { mediaType: string; digest: Digest; size: number }): Promise<boolean> {
    if (!(await registry.uploads.linkExisting(repo, record.blob))) return false;
    await pushReferrer(repo, record, subject);
    return true;
  }

  async function generate(repo: string, digest: Digest): Promise<void> {
    if (await referrerOf(repo, digest)) return;
    const manifest = await registry.manifests.get(repo, { kind: "digest", digest });
    if (!IMAGE_MANIFESTS.has(manifest.mediaType) || !isImage(manifest.content)) return;
    const subject = { mediaType: manifest.mediaType, digest, size: manifest.content.length };
    const known = await readRecord(digest);
    if (known && (await reuse(repo, known, subject))) return;
    const started = Date.now();
    const contents = await scanImage(registry, repo, digest);
    const created = clock().toISOString();
    const json = Buffer.from(await toCycloneDx(contents.packages, { imageDigest: digest, repository: repo, os: contents.os, tool, timestamp: new Date(created) }));
    const blob = digestOf(json);
    await registry.uploads.putWhole(repo, blob, Readable.from([json]), json.length, SBOM_ORIGIN);
    const ecosystems: Record<string, number> = {};
    for (const p of contents.packages) ecosystems[p.ecosystem] = (ecosystems[p.ecosystem] ?? 0) + 1;
    const generator = `${tool.name} ${tool.version}`;
    const base = { blob, size: json.length, created, generator };
    const record: SbomRecord = {
      ...base,
      manifest: digestOf(referrerManifest(base, subject)),
      packages: contents.packages.length,
      ecosystems,
      ...(contents.os ? { os: contents.os.ecosystem ?? contents.os.prettyName ?? contents.os.id } : {}),
    };
    await pushReferrer(repo, record, subject);
    await supply.putSupplyRecords(SBOM_KIND, [{ key: digest, value: JSON.stringify(record) }]);
    const ms = Date.now() - started;
    logger.info("sbom generated", { repository: repo, digest, packages: record.packages, layers: contents.layers, bytes: contents.bytes, ms });
  }

  /** One generation per image digest at a time on this node: a second repository waits, then reuses the first's SBOM. */
  async function once(repo: string, digest: Digest): Promise<void> {
    for (let busy = running.get(digest); busy; busy = running.get(digest)) await busy.catch(() => {});
    const work = generate(repo, digest);
    running.set(digest, work);
    try {
      await work;
      failures.delete(keyOf(repo, digest));
    } catch (err) {
      if (failures.size >= MAX_FAILURES) failures.delete(failures.keys().next().value!);
      failures.set(keyOf(repo, digest), (err as Error).message);
      throw err;
    } finally {
      if (running.get(digest) === work) running.delete(digest);
    }
  }

  const queue = createWorkQueue(async (key) => {
    const [repo, digest] = splitKey(key);
    try {
      await once(repo, digest);
    } catch (err) {
      logger.warn("sbom generation failed", { repository: repo, digest, error: (err as Error).message });
    }
  }, concurrency);

  const wanted = (repo: string) => config.enabled && config.repositories.some((g) => globMatch(g, repo));

  const onEvents = (events: readonly DomainEvent[]) => {
    for (const e of events) {
      if (e.type !== "manifest.pushed" || !e.repository || !e.target?.digest) continue;
      if (!IMAGE_MANIFESTS.has(e.target.mediaType ?? "") || e.detail?.subject !== undefined) continue;
      if (e.actor?.startsWith("proxy:") || e.actor === SBOM_ORIGIN.actor || !wanted(e.repository)) continue;
      queue.add(keyOf(e.repository, e.target.digest));
    }
  };
  const unsubscribe = registry.events.subscribe(onEvents);

  async function packagesOf(repo: string, digest: Digest): Promise<{ packages: Package[]; os?: OsInfo } | undefined> {
    const record = await readRecord(digest);
    if (record && (await registry.blobs.stat(repo, record.blob).then(() => true, () => false))) {
      return packagesFromCycloneDx(await text((await registry.blobs.open(repo, record.blob)).stream));
    }
    const referrer = await referrerOf(repo, digest);
    if (!referrer) return undefined;
    const manifest = JSON.parse((await registry.manifests.get(repo, { kind: "digest", digest: referrer })).content.toString("utf8")) as { layers?: { digest: Digest; mediaType: string }[] };
    const layer = manifest.layers?.find((l) => l.mediaType === CYCLONEDX_JSON);
    if (!layer) return undefined;
    return packagesFromCycloneDx(await text((await registry.blobs.open(repo, layer.digest)).stream));
  }

  async function report(repo: string, digest: Digest): Promise<SbomReport> {
    const referrer = await referrerOf(repo, digest);
    if (referrer) {
      const record = await readRecord(digest);
      if (record?.manifest === referrer) {
        return { status: "ready", referrer, packages: record.packages, ecosystems: record.ecosystems, ...(record.os ? { os: record.os } : {}) };
      }
      const listed = await packagesOf(repo, digest).catch(() => undefined);
      const ecosystems: Record<string, number> = {};
      for (const p of listed?.packages ?? []) ecosystems[p.ecosystem] = (ecosystems[p.ecosystem] ?? 0) + 1;
      const os = listed?.os?.ecosystem ?? listed?.os?.id;
      return { status: "ready", referrer, packages: listed?.packages.length ?? 0, ecosystems, ...(os ? { os } : {}) };
    }
    const key = keyOf(repo, digest);
    if (queue.has(key) || running.has(digest)) return { status: "pending" };
    const error = failures.get(key);
    return error !== undefined ? { status: "failed", error } : { status: "none" };
  }

  return {
    packagesOf,
    report,
    async ensure(repo, digest) {
      await once(repo, digest).catch(() => {});
      return report(repo, digest);
    },
    settled: () => queue.settled(),
    async close() {
      unsubscribe();
      // Shutdown waits for the generations running, not for a backlog: what was still queued is
      // generated by `berth scan` (or the API's next report says `none`).
      const dropped = queue.drop();
      if (dropped > 0) logger.warn("sbom generation left queued at shutdown", { images: dropped });
      await queue.settled();
    },
  };
}
