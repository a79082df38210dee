import type { Digest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import { isValidName, parseReference } from "../../oci/reference.js";
import { describeImageConfig, describeManifest, isImageConfigMediaType, type DescriptorView, type ImageConfigView, type ManifestView } from "../../oci/artifact-view.js";
import { eachItem } from "../../registry/paging.js";
import type { SupplyChain, SupplyReport } from "../../supply/supply-chain.js";
import type { SignatureCheck } from "../../supply/signatures/types.js";
import type { RequestContext } from "../context.js";
import { reply } from "../respond.js";

export const BROWSE_REPOSITORIES_PREFIX = "/api/v1/browse/repositories/";
const MANIFESTS = "/manifests/";

/** Config blobs read for the page at most: image configs are a few KiB; anything bigger is shown as its descriptor. */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Whether `handleArtifactApi` answers this path: `<prefix><name…>/manifests/<ref>`, the reference
 * being the last segment (the rest of the prefix is the browse API's). Matched on the raw path
 * before this one, so `…/x/manifests/info` is the artifact `x:info`; the info or tags of a
 * repository whose name ends in `/manifests` are reached with that slash encoded (`x%2Fmanifests/info`).
 */
export function isArtifactRequest(pathname: string): boolean {
  if (!pathname.startsWith(BROWSE_REPOSITORIES_PREFIX)) return false;
  const at = pathname.lastIndexOf(MANIFESTS);
  return at >= BROWSE_REPOSITORIES_PREFIX.length && at + MANIFESTS.length < pathname.length && !pathname.includes("/", at + MANIFESTS.length);
}

/** The page's answer (docs/web-ui.md, "API: artifacts, my tokens, runs, namespaces"). */
export interface ArtifactView {
  digest: string;
  mediaType: string;
  artifactType?: string;
  size: number;
  content: string;
  tags: string[];
  subject?: DescriptorView;
  annotations: Record<string, string>;
  totalSize: number;
  layers: DescriptorView[];
  config?: DescriptorView & Partial<ImageConfigView> & { content?: string };
  manifests?: DescriptorView[];
  referrers: (DescriptorView & { verification?: Omit<SignatureCheck, "artifact"> })[];
  supply?: SupplyReport;
}

/**
 * What the web UI's artifact page shows, JSON out:
 *
 *   GET /api/v1/browse/repositories/<name…>/manifests/<digest|tag>
 *     → {digest, mediaType, artifactType?, size, content, tags, subject?, annotations, totalSize,
 *        layers, config?, manifests?, referrers, supply?}
 *
 * `content` is the manifest's exact bytes as text; `config` adds an image config's platform,
 * created, author, labels, env, entrypoint, cmd, history and its JSON text when the blob is an OCI
 * image or Docker config of at most 1 MiB (other configs: the descriptor only); `manifests` are an
 * index's children with their platforms; `referrers` carry a signature's `verification` when the
 * supply chain checked it; `supply` is the /api/v1/scan report when a supply chain is configured.
 * `totalSize`: the manifest, and the distinct blobs and child manifests it (or its children, for
 * an index) references. Not a pull: no pull is recorded and no pull gate applies; whoever may pull
 * may read. Errors: 400 NAME_INVALID / TAG_INVALID / DIGEST_INVALID, 404 NAME_UNKNOWN /
 * MANIFEST_UNKNOWN, 401/403 as for a pull.
 */
export async function handleArtifactApi(ctx: RequestContext, supply: SupplyChain | undefined): Promise<void> {
  const { req, res, url, registry } = ctx;
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new RegistryError("UNSUPPORTED", `method ${req.method} not allowed here`, undefined, { headers: { Allow: "GET, HEAD" } });
  }
  const rest = url.pathname.slice(BROWSE_REPOSITORIES_PREFIX.length);
  const split = rest.lastIndexOf(MANIFESTS);
  let name: string;
  let ref: string;
  try {
    name = rest.slice(0, split).split("/").map(decodeURIComponent).join("/");
    ref = decodeURIComponent(rest.slice(split + MANIFESTS.length));
  } catch {
    throw new RegistryError("NAME_INVALID", "the path is not valid percent-encoding", { path: url.pathname });
  }
  if (!isValidName(name)) throw new RegistryError("NAME_INVALID", `not a repository name: ${name}`, { name });
  const reference = parseReference(ref);
  ctx.caller = await ctx.guard.check(req, { repository: name, actions: ["pull"] }, ctx.origin);
  const metadata = registry.stores.metadataStore;
  if (!(await metadata.repositoryExists(name))) throw new RegistryError("NAME_UNKNOWN", undefined, { name });
  const manifest = await registry.manifests.get(name, reference);
  const digest = manifest.digest as Digest;
  const view = describeManifest(manifest.content, manifest.mediaType);

  const [tags, config, totalSize, referrers, report] = await Promise.all([
    tagsOf(ctx, name, digest),
    view.config ? configView(ctx, name, view.config) : undefined,
    totalSizeOf(ctx, name, manifest.content.length, view),
    registry.listing.referrers(name, digest),
    supply?.report(name, digest).catch((err: unknown) => {
      ctx.logger.warn("supply-chain report failed", { repository: name, digest, error: String(err) });
      return undefined;
    }),
  ]);
  const checks = new Map((report?.signatures.checks ?? []).map(({ artifact, ...check }) => [artifact as string, check]));
  const body: ArtifactView = {
    digest,
    mediaType: manifest.mediaType,
    ...(view.artifactType !== undefined ? { artifactType: view.artifactType } : {}),
    size: manifest.content.length,
    content: manifest.content.toString("utf8"),
    tags,
    ...(view.subject ? { subject: view.subject } : {}),
    annotations: view.annotations,
    totalSize,
    layers: view.layers,
    ...(config ? { config } : {}),
    ...(view.manifests ? { manifests: view.manifests } : {}),
    referrers: referrers.manifests.map((r) => {
      const verification = checks.get(r.digest);
      return { ...r, ...(verification ? { verification } : {}) };
    }),
    ...(report ? { supply: report } : {}),
  };
  reply(res, 200, { "Cache-Control": "no-store" }, body);
}

/** The tags of `repo` that point at `digest`, by name (a walk over the repository's tags). */
async function tagsOf(ctx: RequestContext, repo: string, digest: Digest): Promise<string[]> {
  const metadata = ctx.registry.stores.metadataStore;
  const tags: string[] = [];
  for await (const t of eachItem((page) => metadata.listTagDigests(repo, page), (t) => t.tag)) if (t.digest === digest) tags.push(t.tag);
  return tags;
}

async function configView(ctx: RequestContext, repo: string, config: DescriptorView): Promise<ArtifactView["config"]> {
  if (!isImageConfigMediaType(config.mediaType) || config.size > MAX_CONFIG_BYTES) return config;
  let text: string;
  try {
    const blob = await ctx.registry.blobs.open(repo, config.digest as Digest);
    const chunks: Buffer[] = [];
    let read = 0;
    for await (const chunk of blob.stream as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (read > MAX_CONFIG_BYTES) {
        blob.stream.destroy();
        return config;
      }
      chunks.push(chunk);
    }
    text = Buffer.concat(chunks).toString("utf8");
  } catch (err) {
    // A config not held here (a lazily cached proxy image) or a store hiccup: the page still has the manifest.
    ctx.logger.debug("config blob not readable for the artifact page", { repository: repo, digest: config.digest, error: String(err) });
    return config;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return config;
  }
  return { ...config, ...describeImageConfig(parsed), content: text };
}

/** The manifest plus every distinct blob and child manifest it references (an index: through its children stored here). */
async function totalSizeOf(ctx: RequestContext, repo: string, size: number, view: ManifestView): Promise<number> {
  const blobs = new Map<string, number>();
  const add = (v: ManifestView) => {
    if (v.config) blobs.set(v.config.digest, v.config.size);
    for (const l of v.layers) blobs.set(l.digest, l.size);
  };
  add(view);
  let total = size;
  const children = new Set((view.manifests ?? []).map((c) => c.digest));
  for (const child of children) {
    const stored = await ctx.registry.stores.metadataStore.getManifest(repo, child as Digest);
    if (!stored) continue;
    total += stored.content.length;
    add(describeManifest(stored.content, stored.mediaType));
  }
  for (const s of blobs.values()) total += s;
  return total;
}
