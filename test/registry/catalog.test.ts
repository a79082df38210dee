import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Digest } from "../../src/oci/digest.js";
import { RegistryError } from "../../src/oci/errors.js";
import type { TagRule } from "../../src/oci/tag-rules.js";
import { createCatalog } from "../../src/registry/catalog.js";
import { auditEntry } from "../../src/auth/audit-log.js";
import type { AuditEvent, AuthStore } from "../../src/storage/auth-store.js";
import { createSqliteAuthStore } from "../../src/storage/drivers/sqlite-auth-store.js";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, descriptor, digestOf, json, makeImage, MT, randomBlob, uniqueName, type Image } from "../http/client.js";

const RULES: TagRule[] = [{ name: "releases", repositories: "*", immutable: ["v*"], forbid: [], require: [] }];

/**
 * Whole deletions and listings (registry/catalog.ts) over a running server's stores: images are
 * pushed over HTTP, the catalog and GC run in the process. Embedded by default, S3 + PostgreSQL
 * with BERTH_TEST_BACKEND=s3-postgres.
 */
describe("catalog: namespaces, repositories and tags", () => {
  let berth: TestBerth;
  let c: Client;
  before(async () => {
    berth = await startBerth();
    c = new Client(berth.url);
  });
  after(() => berth.stop());

  const metadata = () => berth.berth.registry.stores.metadataStore;
  const catalog = (rules: TagRule[] = []) => createCatalog(metadata(), { events: berth.berth.registry.events, tagRules: rules });
  const stored = async (digest: string) => (await berth.berth.registry.stores.blobStore.stat(digest as Digest)) !== undefined;
  /** What the audit log would record of the deletions from now on, as the audit subscriber words it. */
  const recorder = () => {
    const events: Omit<AuditEvent, "time" | "actor" | "source">[] = [];
    berth.berth.registry.events.subscribe((batch) => {
      for (const e of batch) {
        const entry = auditEntry(e);
        if (!entry) continue;
        const { time: _t, actor: _a, source: _s, ...rest } = entry;
        events.push(rest);
      }
    });
    return { events };
  };
  const rejects = (p: Promise<unknown>, code: string, status: number) =>
    assert.rejects(p, (err: unknown) => err instanceof RegistryError && err.code === code && err.status === status);

  async function pullable(name: string, ref: string, image: Image): Promise<boolean> {
    if ((await c.get(`/v2/${name}/manifests/${ref}`, { Accept: image.mediaType })).status !== 200) return false;
    for (const d of [image.config, ...image.layers]) if ((await c.get(`/v2/${name}/blobs/${d.digest}`)).status !== 200) return false;
    return true;
  }

  /** An image with one layer shared with other images and one of its own. */
  function imageWith(shared: Buffer): Image {
    const own = makeImage();
    const layers = [descriptor(MT.ociLayer, shared), ...own.layers];
    const manifest = json({ schemaVersion: 2, mediaType: MT.ociManifest, config: own.config, layers });
    return { ...own, manifest, digest: digestOf(manifest), blobs: [...own.blobs, shared], layers };
  }

  it("deletes a repository: its images no longer pull, GC reclaims its own blobs and keeps the shared ones", async () => {
    const [ns, shared] = [uniqueName("del"), randomBlob(300)];
    const gone = imageWith(shared);
    const kept = imageWith(shared);
    await c.pushImage(`${ns}/gone`, gone, "1.0");
    await c.pushImage(`${ns}/gone`, gone, "latest");
    await c.pushImage(`${ns}/kept`, kept, "1.0");
    const { events } = recorder();

    assert.deepEqual(await catalog().deleteRepository(`${ns}/gone`), { repository: `${ns}/gone`, tags: 2, manifests: 1, links: 3 });
    assert.deepEqual(events, [{ action: "repo.delete", repository: `${ns}/gone`, target: `${ns}/gone`, result: "ok", detail: { tags: 2, manifests: 1, links: 3 } }]);
    assert.equal((await c.get(`/v2/${ns}/gone/manifests/1.0`)).status, 404);
    assert.equal((await c.get(`/v2/${ns}/gone/blobs/${gone.layers[1]!.digest}`)).status, 404, "its blobs are no longer served from it");
    assert.ok(!(await c.get("/v2/_catalog?n=10000")).json<{ repositories: string[] }>().repositories.includes(`${ns}/gone`));
    assert.deepEqual((await catalog().listRepositories({ namespace: ns })).map((r) => r.name), [`${ns}/kept`]);
    assert.ok(await stored(gone.layers[1]!.digest), "bytes stay until garbage collection");

    const report = await berth.berth.registry.gc.run({ wait: true });
    assert.equal(report.skipped, undefined);
    assert.equal(await stored(gone.layers[1]!.digest), false, "its own layer is reclaimed");
    assert.equal(await stored(gone.config.digest), false, "its config is reclaimed");
    assert.ok(await stored(kept.layers[0]!.digest), "the layer shared with another repository stays");
    assert.ok(await pullable(`${ns}/kept`, "1.0", kept), "the other repository still pulls whole");

    await rejects(catalog().deleteRepository(`${ns}/gone`), "NAME_UNKNOWN", 404);
    await rejects(catalog().deleteRepository("Not A Name"), "NAME_INVALID", 400);
  });

  it("refuses to delete a repository or a tag under an immutable-tag rule, changing nothing", async () => {
    const name = `${uniqueName("imm")}/app`;
    const image = await c.pushImage(name, makeImage(), "v1");
    await c.pushManifest(name, "edge", image.manifest, image.mediaType);
    const { events } = recorder();
    await rejects(catalog(RULES).deleteRepository(name), "DENIED", 403);
    await rejects(catalog(RULES).deleteTag(name, "v1"), "DENIED", 403);
    assert.equal(events.length, 0);
    assert.deepEqual((await catalog(RULES).listTags(name)).map((t) => [t.tag, t.immutable]), [["edge", undefined], ["v1", "releases"]]);
    assert.ok(await pullable(name, "v1", image));

    assert.deepEqual(await catalog(RULES).deleteTag(name, "edge"), { repository: name, tag: "edge", digest: image.digest });
    assert.deepEqual(events, [{ action: "tag.delete", repository: name, target: "edge", result: "ok", detail: { digest: image.digest } }]);
    assert.equal((await c.get(`/v2/${name}/manifests/edge`)).status, 404);
    assert.ok(await pullable(name, image.digest, image), "deleting a tag leaves the manifest");
    await rejects(catalog(RULES).deleteTag(name, "edge"), "MANIFEST_UNKNOWN", 404);
    await rejects(catalog(RULES).deleteTag(`${name}-none`, "edge"), "NAME_UNKNOWN", 404);
    await rejects(catalog(RULES).deleteTag(name, "-bad"), "TAG_INVALID", 400);
    await rejects(catalog(RULES).listTags(`${name}-none`), "NAME_UNKNOWN", 404);
  });

  it("refuses to delete a namespace that holds repositories without force, and with force deletes exactly its repositories", async () => {
    const ns = uniqueName("ns");
    const images = [await c.pushImage(ns, makeImage(), "a"), await c.pushImage(`${ns}/x`, makeImage(), "b"), await c.pushImage(`${ns}/x/y`, makeImage(), "c")];
    const neighbour = await c.pushImage(`${ns}0/z`, makeImage(), "d");
    const { events } = recorder();

    await rejects(catalog().deleteNamespace(ns), "CONFLICT", 409);
    assert.equal(events.length, 0);
    assert.deepEqual((await catalog().listRepositories({ namespace: ns })).map((r) => [r.name, r.tags, r.manifests]), [
      [ns, 1, 1],
      [`${ns}/x`, 1, 1],
      [`${ns}/x/y`, 1, 1],
    ]);
    const listed = (await catalog().listNamespaces()).filter((n) => n.name.startsWith(ns));
    assert.deepEqual(listed, [
      { name: ns, repositories: 3, declared: false },
      { name: `${ns}0`, repositories: 1, declared: false },
    ]);

    const done = await catalog().deleteNamespace(ns, { force: true });
    assert.deepEqual(done.repositories.map((r) => r.repository), [ns, `${ns}/x`, `${ns}/x/y`]);
    assert.deepEqual(events.map((e) => [e.action, e.repository ?? e.target]), [
      ["repo.delete", ns],
      ["repo.delete", `${ns}/x`],
      ["repo.delete", `${ns}/x/y`],
      ["ns.del", ns],
    ]);
    assert.deepEqual(await catalog().listRepositories({ namespace: ns }), []);
    assert.equal((await c.get(`/v2/${ns}/x/manifests/b`)).status, 404);
    assert.ok(await pullable(`${ns}0/z`, "d", neighbour), "a namespace is a whole first segment: ns0/… stays");
    await berth.berth.registry.gc.run({ wait: true });
    for (const image of images) assert.equal(await stored(image.layers[0]!.digest), false);
    await rejects(catalog().deleteNamespace(ns, { force: true }), "NAME_UNKNOWN", 404);
    await rejects(catalog().deleteNamespace("a/b"), "NAME_INVALID", 400);
  });

  it("refuses a forced namespace deletion when any of its repositories holds an immutable tag, deleting none", async () => {
    const ns = uniqueName("nsimm");
    await c.pushImage(`${ns}/a`, makeImage(), "edge");
    await c.pushImage(`${ns}/b`, makeImage(), "v2");
    await rejects(catalog(RULES).deleteNamespace(ns, { force: true }), "DENIED", 403);
    assert.equal((await catalog().listRepositories({ namespace: ns })).length, 2);
  });

  it("keeps every surviving tag whole when pushes race a repository delete and collections", async () => {
    const name = `${uniqueName("race")}/app`;
    const shared = randomBlob(200);
    await c.pushImage(name, imageWith(shared), "t0");
    const images = Array.from({ length: 6 }, () => imageWith(shared));
    const pushes = images.map(async (image, i) => {
      for (const blob of image.blobs) await c.pushBlob(name, blob);
      return (await c.putManifest(name, `t${i + 1}`, image.manifest, image.mediaType)).status;
    });
    const deleted = catalog().deleteRepository(name);
    const collected = berth.berth.registry.gc.run({ wait: true, graceMs: 0 });
    const statuses = await Promise.all(pushes);
    await deleted;
    await collected;
    for (const s of statuses) assert.ok(s === 201 || s === 400, `a push either lands or fails cleanly (${s})`);
    await berth.berth.registry.gc.run({ wait: true, graceMs: 0 });
    const tags = (await metadata().listTags(name, { limit: 100 })) as string[];
    for (const tag of tags) {
      const image = tag === "t0" ? undefined : images[Number(tag.slice(1)) - 1];
      if (image) assert.ok(await pullable(name, tag, image), `${tag} survived the race, so it must pull whole`);
    }
  });

  describe("with access control", () => {
    let dir: string;
    let auth: AuthStore;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "berth-catalog-auth-"));
      auth = createSqliteAuthStore({ path: join(dir, "auth.db"), create: true });
    });
    after(async () => {
      await auth.close();
      await rm(dir, { recursive: true, force: true });
    });
    const withAccess = () => createCatalog(metadata(), { events: berth.berth.registry.events, access: { store: auth, defaultVisibility: "private" } });

    it("lists declared namespaces with their records and repositories with their visibility; ns del removes the records", async () => {
      const ns = uniqueName("acl");
      await auth.createUser({ name: `${ns}-owner`, passwordHash: "x", admin: false, createdAt: 1 });
      await auth.putNamespace({ name: ns, visibility: "public", owner: `${ns}-owner`, createdAt: 5 });
      await auth.setMember(ns, `${ns}-owner`, "owner");
      await auth.putNamespace({ name: `${ns}-empty`, visibility: "private", createdAt: 6 });
      await c.pushImage(`${ns}/pub`, makeImage(), "1");
      await c.pushImage(`${ns}/priv`, makeImage(), "1");
      await c.pushImage(`${ns}z/other`, makeImage(), "1");
      await auth.setRepositoryVisibility(`${ns}/priv`, "private");

      const listed = (await withAccess().listNamespaces()).filter((n) => n.name.startsWith(ns));
      assert.deepEqual(listed, [
        { name: ns, repositories: 2, declared: true, visibility: "public", owner: `${ns}-owner`, members: 1, createdAt: 5 },
        { name: `${ns}-empty`, repositories: 0, declared: true, visibility: "private", members: 0, createdAt: 6 },
        { name: `${ns}z`, repositories: 1, declared: false },
      ]);
      const repos = (await withAccess().listRepositories()).filter((r) => r.name.startsWith(ns));
      assert.deepEqual(repos.map((r) => [r.name, r.visibility]), [
        [`${ns}/priv`, "private"],
        [`${ns}/pub`, "public"],
        [`${ns}z/other`, "private"],
      ]);

      const { events } = recorder();
      const done = await withAccess().deleteNamespace(ns, { force: true });
      assert.equal(done.accessControl, true);
      assert.equal(await auth.getNamespace(ns), undefined);
      assert.deepEqual(await auth.listMembers(ns), []);
      assert.equal(await auth.getRepositoryVisibility(`${ns}/priv`), undefined, "no stale override for a future repository of that name");
      assert.deepEqual(events.at(-1), { action: "ns.del", target: ns, result: "ok", detail: { force: true, repositories: [`${ns}/priv`, `${ns}/pub`], accessControl: true } });
      const empty = await withAccess().deleteNamespace(`${ns}-empty`);
      assert.deepEqual(empty, { namespace: `${ns}-empty`, repositories: [], accessControl: true }, "a declared namespace with no repository needs no force");
    });
  });
});
