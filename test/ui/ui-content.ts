/**
 * Content for the web UI's browser tests, pushed through Berth's own registry client (src/client):
 * a hostile image whose every free-text field carries markup and `javascript:` URLs, an index whose
 * children name hostile platforms, a referrer with a hostile artifact type, and realistic content
 * (images, an index, a signature-like referrer) for the page and layout tests.
 */
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { RegistryClient } from "../../src/client/registry-client.js";
import { makeTar } from "../helpers/fixtures.js";
import { clientOf } from "../helpers/push.js";
import { digestOf, json, MT } from "../http/client.js";

/** Markup and script URLs that must reach the page as text. */
export const HOSTILE = {
  script: "<script>alert(1)</script>",
  img: "<img src=x onerror=alert(2)>",
  url: "javascript:alert(3)",
  svg: `"><svg onload=alert(4)>`,
} as const;

/** One unbroken 4,000-character word: it must wrap, not widen the page. */
export const LONG = `long-${"x".repeat(3_995)}`;

/** The longest tag the grammar allows (128 characters). */
export const LONG_TAG = `t${"0123456789abcdef".repeat(8).slice(0, 127)}`;

export interface Pushed {
  digest: string;
  /** Every string of content the page may show, for the "shown as text" assertions. */
  texts: string[];
}

const descriptor = (mediaType: string, bytes: Buffer, extra: Record<string, unknown> = {}) => ({ mediaType, digest: digestOf(bytes), size: bytes.length, ...extra });

async function pushAll(client: RegistryClient, repo: string, blobs: Buffer[]): Promise<void> {
  for (const blob of blobs) await client.pushBlob(repo, blob);
}

function layerOf(files: Record<string, string>): { blob: Buffer; diffId: string } {
  const tar = makeTar(files);
  return { blob: gzipSync(tar), diffId: digestOf(tar) };
}

/** An image config with `fields` merged over a plausible one. */
function configOf(diffIds: string[], platform: { os: string; architecture: string; variant?: string }, fields: Record<string, unknown> = {}): Buffer {
  return json({
    created: "2026-12-01T10:00:00Z",
    ...platform,
    config: { Env: ["PATH=/usr/local/bin:/usr/bin:/bin"], Entrypoint: ["/usr/local/bin/app"], Cmd: ["--serve"], Labels: { "org.opencontainers.image.vendor": "Berth tests" } },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: "2026-12-01T09:00:00Z", created_by: `/bin/sh -c make layer-${i}` })),
    nonce: randomBytes(8).toString("hex"),
    ...fields,
  });
}

/** Pushes a plausible image (`layers` small files) under `tag` (by digest without one); resolves its digest and bytes. */
export async function pushPlainImage(client: RegistryClient, repo: string, tag: string | undefined, options: { layers?: number; platform?: { os: string; architecture: string; variant?: string }; annotations?: Record<string, string> } = {}) {
  const layers = Array.from({ length: options.layers ?? 2 }, (_, i) => layerOf({ [`app/file-${i}.txt`]: `${repo}:${tag} layer ${i} ${randomBytes(512).toString("base64")}` }));
  const config = configOf(layers.map((l) => l.diffId), options.platform ?? { os: "linux", architecture: "amd64" });
  const manifest = json({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: descriptor(MT.ociConfig, config),
    layers: layers.map((l) => descriptor(MT.ociLayer, l.blob)),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  });
  await pushAll(client, repo, [config, ...layers.map((l) => l.blob)]);
  const digest = await client.putManifest(repo, tag ?? digestOf(manifest), manifest, MT.ociManifest);
  return { digest: digest as string, manifest, mediaType: MT.ociManifest };
}

/** Pushes an index of images for `platforms` under `tag`, with `platformOf` describing each child in the index. */
export async function pushIndex(client: RegistryClient, repo: string, tag: string, platforms: { os: string; architecture: string; variant?: string }[], extra: { childPlatform?: (i: number) => Record<string, unknown>; annotations?: Record<string, string>; childAnnotations?: Record<string, string> } = {}) {
  const children = [];
  for (const [i, platform] of platforms.entries()) {
    const child = await pushPlainImage(client, repo, undefined, { platform, layers: 1 });
    children.push({ ...descriptor(child.mediaType, child.manifest), platform: extra.childPlatform?.(i) ?? platform, ...(extra.childAnnotations ? { annotations: extra.childAnnotations } : {}) });
  }
  const index = json({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: children, ...(extra.annotations ? { annotations: extra.annotations } : {}) });
  const digest = await client.putManifest(repo, tag, index, MT.ociIndex);
  return { digest: digest as string, children: children.map((c) => c.digest) };
}

/** Pushes an artifact that refers to `subject` (an empty config, one layer); resolves its digest. */
export async function pushReferrer(client: RegistryClient, repo: string, subject: { digest: string; size: number; mediaType: string }, artifactType: string, annotations: Record<string, string>, layerMediaType = "application/vnd.berth.test.note+json") {
  const empty = Buffer.from("{}");
  const payload = json({ note: "a referrer", nonce: randomBytes(8).toString("hex") });
  const manifest = json({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    artifactType,
    config: descriptor(MT.ociEmpty, empty),
    layers: [descriptor(layerMediaType, payload, { annotations })],
    subject,
    annotations: { "org.opencontainers.image.created": "2026-12-01T11:00:00Z", ...annotations },
  });
  await pushAll(client, repo, [empty, payload]);
  return (await client.putManifest(repo, digestOf(manifest), manifest, MT.ociManifest)) as string;
}

export interface HostileContent {
  repo: string;
  tag: string;
  image: Pushed;
  index: Pushed & { children: string[] };
  referrer: Pushed;
  /** A repository whose name is as long as the grammar and Berth allow. */
  longRepo: string;
}

/**
 * Pushes the hostile content into `repo` (an admin's credentials): an image whose manifest, layer
 * and config fields (annotations, labels, author, env, history created_by and comment) carry
 * HOSTILE and LONG, tagged `v1` and LONG_TAG; an index whose children's platform fields and
 * annotations are hostile; a referrer with a hostile artifactType, layer media type and annotations.
 */
export async function pushHostileContent(url: string, credentials: { username: string; password: string }, repo = "hostile/app"): Promise<HostileContent> {
  const client = clientOf(url, credentials);
  try {
    const all = Object.values(HOSTILE);
    const annotations: Record<string, string> = {
      "org.opencontainers.image.description": HOSTILE.script,
      "org.opencontainers.image.title": HOSTILE.img,
      "org.opencontainers.image.url": HOSTILE.url,
      "org.opencontainers.image.source": HOSTILE.url,
      "org.opencontainers.image.documentation": "javascript:alert(5)//https://example.com",
      "org.opencontainers.image.authors": HOSTILE.svg,
      [HOSTILE.svg]: HOSTILE.img,
      "org.example.long": LONG,
    };
    const layer = layerOf({ "hostile.txt": "file contents are not shown" });
    const config = configOf([layer.diffId], { os: "linux", architecture: "amd64" }, {
      author: HOSTILE.svg,
      config: {
        Env: [`GREETING=${HOSTILE.script}`, `HOMEPAGE=${HOSTILE.url}`],
        Entrypoint: ["/bin/sh", "-c", HOSTILE.img],
        Cmd: [HOSTILE.svg],
        Labels: { "org.opencontainers.image.url": HOSTILE.url, [HOSTILE.script]: HOSTILE.img, "org.example.long": LONG },
      },
      history: [
        { created: "2026-12-01T09:00:00Z", created_by: `/bin/sh -c echo '${HOSTILE.script}' > /x`, comment: HOSTILE.img },
        { created: "2026-12-01T09:01:00Z", created_by: `LABEL url=${HOSTILE.url} ${HOSTILE.svg}`, empty_layer: true, comment: LONG },
      ],
    });
    const manifest = json({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: descriptor(MT.ociConfig, config),
      layers: [descriptor(MT.ociLayer, layer.blob, { annotations: { "org.opencontainers.image.title": HOSTILE.script, [HOSTILE.img]: HOSTILE.url } })],
      annotations,
    });
    await pushAll(client, repo, [config, layer.blob]);
    const digest = (await client.putManifest(repo, "v1", manifest, MT.ociManifest)) as string;
    await client.putManifest(repo, LONG_TAG, manifest, MT.ociManifest);

    const index = await pushIndex(
      client,
      repo,
      "multi",
      [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
      ],
      {
        childPlatform: (i) =>
          i === 0
            ? { os: HOSTILE.script, architecture: HOSTILE.img, "os.version": HOSTILE.url, "os.features": [HOSTILE.svg] }
            : { os: "linux", architecture: "arm64", variant: HOSTILE.svg, features: [HOSTILE.img] },
        annotations: { "org.opencontainers.image.description": HOSTILE.img, "org.opencontainers.image.url": HOSTILE.url },
        childAnnotations: { "org.opencontainers.image.title": HOSTILE.svg },
      },
    );

    const referrerType = `application/vnd.example+${HOSTILE.script}`;
    const referrer = await pushReferrer(client, repo, { digest, size: manifest.length, mediaType: MT.ociManifest }, referrerType, { "org.example.note": HOSTILE.img, "org.opencontainers.image.url": HOSTILE.url }, `text/${HOSTILE.svg}`);

    const longRepo = `hostile/${"n".repeat(40)}/${"a".repeat(60)}-${"b".repeat(60)}`;
    await pushPlainImage(client, longRepo, LONG_TAG, { annotations: { "org.opencontainers.image.description": LONG } });

    return {
      repo,
      tag: "v1",
      image: { digest, texts: [...all, LONG.slice(0, 200)] },
      index: { digest: index.digest, children: index.children, texts: [HOSTILE.img, HOSTILE.url] },
      referrer: { digest: referrer, texts: [referrerType, HOSTILE.img] },
      longRepo,
    };
  } finally {
    client.close();
  }
}
