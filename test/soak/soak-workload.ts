import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { RegistryClientError, type RegistryClient } from "../../src/client/registry-client.js";
import type { Digest } from "../../src/oci/digest.js";
import { makeImage, makeIndex, sha256, type TestImage } from "../helpers/fixtures.js";
import { clientOf, withClient } from "../helpers/push.js";
import { patchChunk, startUpload, withQuery } from "../helpers/upload-session.js";

/**
 * A bounded soak of one registry (one node or several sharing stores): concurrent pushes
 * (some through slow chunked uploads, some pausing past the GC grace period before their manifest),
 * pulls that verify every digest, tag moves, deletes, and back-to-back garbage collections through
 * POST /api/v1/gc on random nodes. `verify` then checks the end state. Nothing here knows the
 * backend; the caller lists what is in blob storage.
 */

export interface SoakOptions {
  nodes: string[];
  durationMs: number;
  /** The servers' gc.grace; some pushes pause longer than this before their manifest. */
  graceMs: number;
  log?: (line: string) => void;
}

export interface SoakStats {
  pushes: number;
  slowUploads: number;
  /** Manifest PUTs refused with MANIFEST_BLOB_UNKNOWN because a sweep took a layer first (then retried). */
  refusedAfterSweep: number;
  pulls: number;
  pullsGone: number;
  tagMoves: number;
  deletes: number;
  gcRuns: number;
  gcSkipped: number;
  bytesReclaimed: number;
  /** Anything that must never happen: 5xx, a digest mismatch, an unexpected status. */
  errors: string[];
}

const REPOS = ["soak/a", "soak/b", "soak/c/deep"];
const BASES = [randomBytes(48 * 1024), randomBytes(96 * 1024), randomBytes(24 * 1024)];
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

interface Kept {
  repo: string;
  tag: string;
  digest: string;
}

export async function runSoak(options: SoakOptions): Promise<{ stats: SoakStats; kept: Kept[] }> {
  const stats: SoakStats = {
    pushes: 0, slowUploads: 0, refusedAfterSweep: 0, pulls: 0, pullsGone: 0,
    tagMoves: 0, deletes: 0, gcRuns: 0, gcSkipped: 0, bytesReclaimed: 0, errors: [],
  };
  const kept: Kept[] = [];
  const deadline = Date.now() + options.durationMs;
  const node = () => pick(options.nodes);
  const clients = new Map(options.nodes.map((url) => [url, clientOf(url)]));
  /** The registry client of a random node; pushes and pulls go through it, raw requests only for the slow chunked uploads. */
  const client = (url = node()) => clients.get(url)!;
  const statusOf = (err: unknown) => (err instanceof RegistryClientError ? err.status : undefined);
  const fail = (what: string) => {
    stats.errors.push(what);
    options.log?.(`ERROR ${what}`);
  };
  const check = async (res: Response, ok: number[], what: string) => {
    if (!ok.includes(res.status)) fail(`${what}: ${res.status} ${await res.text()}`);
    else await res.arrayBuffer();
    return res.status;
  };

  async function uploadBlob(url: string, repo: string, data: Buffer, slow: boolean): Promise<void> {
    if (!slow) {
      await client(url).pushBlob(repo, data).catch((err) => fail(`blob upload: ${String(err)}`));
      return;
    }
    stats.slowUploads++;
    // Chunks through different nodes, with pauses: the upload outlives several sweeps.
    const location = new URL(await startUpload(url, repo));
    const third = Math.ceil(data.length / 3);
    for (let offset = 0; offset < data.length; offset += third) {
      const target = new URL(location.pathname + location.search, node()).toString();
      await check(await patchChunk(target, data.subarray(offset, offset + third), offset), [202], "chunk");
      await sleep(100 + Math.random() * 400);
    }
    const done = withQuery(new URL(location.pathname + location.search, node()).toString(), { digest: sha256(data) });
    await check(await fetch(done, { method: "PUT" }), [201], "finish upload");
  }

  /** Pushes blobs then the manifest; a manifest refused because a sweep took a blob is pushed again. */
  async function pushImage(repo: string, image: TestImage, ref: string): Promise<boolean> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const url = node();
      for (const [i, layer] of image.layers.entries()) await uploadBlob(url, repo, layer, i > 0 && Math.random() < 0.2);
      await uploadBlob(url, repo, image.config, false);
      if (Math.random() < 0.15) await sleep(Math.random() * options.graceMs * 2.5);
      try {
        await client().putManifest(repo, ref, image.manifest, image.manifestMediaType);
        stats.pushes++;
        return true;
      } catch (err) {
        if (err instanceof RegistryClientError && err.status === 400 && err.code === "MANIFEST_BLOB_UNKNOWN") {
          stats.refusedAfterSweep++;
          continue;
        }
        fail(`manifest PUT ${repo}:${ref}: ${String(err)}`);
        return false;
      }
    }
    return false;
  }

  const image = () =>
    makeImage({ layers: [pick(BASES), randomBytes(1024 + Math.floor(Math.random() * 64 * 1024))], annotations: { n: randomUUID() } });

  async function pusher(id: number): Promise<void> {
    for (let n = 0; Date.now() < deadline; n++) {
      const repo = pick(REPOS);
      const img = image();
      const keep = n % 4 === 0;
      const tag = keep ? `keep-${id}-${n}` : `t-${id}-${n}`;
      if (Math.random() < 0.15) {
        // A two-platform index: children by digest first, then the index under the tag.
        const other = image();
        if (!(await pushImage(repo, img, img.manifestDigest)) || !(await pushImage(repo, other, other.manifestDigest))) continue;
        const index = makeIndex([img, other].map((i) => ({ mediaType: i.manifestMediaType, digest: i.manifestDigest, size: i.manifest.length })));
        try {
          await client().putManifest(repo, tag, index.index, index.mediaType);
          if (keep) kept.push({ repo, tag, digest: index.digest });
        } catch (err) {
          // The children were pushed untagged: a sweep past the grace period may take them first.
          if (err instanceof RegistryClientError && err.status === 400 && err.code === "MANIFEST_UNKNOWN") stats.refusedAfterSweep++;
          else fail(`index PUT: ${String(err)}`);
        }
        continue;
      }
      if ((await pushImage(repo, img, tag)) && keep) kept.push({ repo, tag, digest: img.manifestDigest });
    }
  }

  async function tags(repo: string): Promise<string[]> {
    try {
      return (await client().tags(repo, { n: 1000 }))?.tags ?? [];
    } catch (err) {
      return (fail(`tags/list ${String(err)}`), []);
    }
  }

  async function puller(): Promise<void> {
    while (Date.now() < deadline) {
      const repo = pick(REPOS);
      const tag = pick(await tags(repo));
      if (!tag) {
        await sleep(50);
        continue;
      }
      const result = await pullAndVerify(client(), repo, tag, false);
      if (result === "gone") stats.pullsGone++;
      else if (typeof result === "string") fail(result);
      else stats.pulls++;
    }
  }

  async function mutator(): Promise<void> {
    while (Date.now() < deadline) {
      const repo = pick(REPOS);
      const movable = (await tags(repo)).filter((t) => !t.startsWith("keep-"));
      if (movable.length === 0) {
        await sleep(100);
        continue;
      }
      const tag = pick(movable);
      const roll = Math.random();
      if (roll < 0.4) {
        // Move another tag onto this tag's manifest (it may be deleted under us: 404/400 are fine).
        const got = await client().manifest(repo, tag).catch((err) => void fail(`manifest GET: ${String(err)}`));
        if (!got?.content) continue;
        try {
          await client().putManifest(repo, pick(movable), got.content, got.mediaType);
          stats.tagMoves++;
        } catch (err) {
          if (statusOf(err) !== 400 && statusOf(err) !== 404) fail(`tag move: ${String(err)}`);
        }
      } else {
        try {
          await client().deleteManifest(repo, tag);
          stats.deletes++;
        } catch (err) {
          if (statusOf(err) !== 404) fail(`delete tag: ${String(err)}`);
        }
      }
      await sleep(100 + Math.random() * 200);
    }
  }

  async function collector(): Promise<void> {
    while (Date.now() < deadline) {
      const res = await fetch(`${node()}/api/v1/gc?deleteUntagged=true`, { method: "POST" });
      if (res.status === 409) {
        stats.gcSkipped++;
        await res.arrayBuffer();
      } else if (res.status === 200) {
        stats.gcRuns++;
        stats.bytesReclaimed += ((await res.json()) as { bytesReclaimed: number }).bytesReclaimed;
      } else fail(`gc: ${res.status} ${await res.text()}`);
      await sleep(20);
    }
  }

  try {
    await Promise.all([
      ...[0, 1, 2].map((id) => pusher(id)),
      puller(),
      puller(),
      mutator(),
      collector(),
      collector(),
    ]);
  } finally {
    for (const c of clients.values()) c.close();
  }
  return { stats, kept };
}

/**
 * Pulls `repo:ref` (an index's children too) with the registry client, which checks every digest.
 * Resolves the set of blob digests it references, "gone" when it vanished mid-pull (deleted
 * concurrently; only allowed when `strict` is false), or a description of what is wrong.
 */
export async function pullAndVerify(client: RegistryClient, repo: string, ref: string, strict: boolean): Promise<Set<string> | "gone" | string> {
  const blobs = new Set<string>();
  const gone = (what: string) => (strict ? `${repo}:${ref}: ${what} is missing` : "gone");
  const visit = async (reference: string): Promise<string | undefined> => {
    const manifest = await client.manifest(repo, reference).catch((err: unknown) => `${repo}@${reference}: ${String(err)}`);
    if (typeof manifest === "string") return manifest;
    if (!manifest?.content) return gone(`manifest ${reference}`);
    const json = JSON.parse(manifest.content.toString()) as { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
    for (const child of json.manifests ?? []) {
      const problem = await visit(child.digest);
      if (problem) return problem;
    }
    for (const d of [json.config?.digest, ...(json.layers ?? []).map((l) => l.digest)]) {
      if (!d) continue;
      const blob = await client.blobContent(repo, d as Digest).catch((err: unknown) => `${repo}: blob ${d}: ${String(err)}`);
      if (typeof blob === "string") return blob;
      if (!blob) return gone(`blob ${d}`);
      blobs.add(d);
    }
    return undefined;
  };
  const problem = await visit(ref);
  return problem ?? blobs;
}

/**
 * The end state after a final collection: every tag pulls whole with correct digests, every kept
 * tag still points where it was pushed, and blob storage holds exactly the blobs tags reach.
 */
export async function verifySoak(url: string, kept: readonly Kept[], storedBlobs: () => Promise<Set<string>>): Promise<string[]> {
  const problems: string[] = [];
  const reachable = new Set<string>();
  await withClient(url, async (client) => {
    for (const repo of REPOS) {
      for (const tag of (await client.tags(repo, { n: 10000 }))?.tags ?? []) {
        const result = await pullAndVerify(client, repo, tag, true);
        if (typeof result === "string") problems.push(result);
        else for (const d of result) reachable.add(d);
      }
    }
    for (const k of kept) {
      const head = await client.manifest(k.repo, k.tag, { method: "HEAD" });
      if (head?.digest !== k.digest) problems.push(`kept tag ${k.repo}:${k.tag} should point at ${k.digest}, got ${head?.digest ?? "404"}`);
    }
  });
  const stored = await storedBlobs();
  for (const d of reachable) if (!stored.has(d)) problems.push(`reachable blob ${d} is not in storage`);
  for (const d of stored) if (!reachable.has(d)) problems.push(`unreferenced blob ${d} is still stored`);
  return problems;
}
